"""Run firmware on the QEMU board (boards/qemu): a 32-bit Cortex-M MicroPython with it frozen.

A boot is one `qemu-system-arm` process: the image of upurse.mpbuild, its console on UART0, its
flash a littlefs image in a host file (4 KiB blocks, boards/qemu/flash.py), its options passed
by semihosting (boards/qemu/qemuboot.py). `run_script` runs a firmware-side test script the way
the unix port does: the script, its helpers and the files and folders its arguments name are
copied into a fresh flash image at the same paths, the script runs, and the folders it was given
are copied back, so a test sees what the script wrote. With `icount=True` the guest's clock
counts instructions (1000 per tick of time.ticks_us): deterministic CPU cost for `make bench`.
"""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

from littlefs import LittleFS

from upurse.mpbuild import qemu_image
from upurse.port import FIRMWARE

BOARD_PY = FIRMWARE.parent / "boards" / "qemu" / "board.py"
BLOCK_SIZE = 4096
PROG_SIZE = 256
BOARD_BLOCKS = 352  # boards/qemu/board.py FLASH_BLOCKS: a Pico's littlefs, 1408 KiB
# A test script's flash holds the test's many cards and journals at once, where a card board
# holds one card: 16 MiB in 512-byte blocks (littlefs checksums a whole metadata block on each
# lookup, so small blocks keep hundreds of folders cheap)
SCRIPT_FLASH = 16 << 20
SCRIPT_BLOCK = 512
MACHINE = "mps2-an386"
ICOUNT = "shift=0,align=off,sleep=off"  # one instruction per ns of guest time


class QemuMissingError(RuntimeError):
    pass


def _background() -> None:
    """Scripts and wired cards are long CPU runs with no deadline: below the processes that
    keep time (the emulated rig's boards, the field), which share the same cores."""
    os.nice(10)


def binary() -> str:
    found = shutil.which("qemu-system-arm")
    if not found:
        raise QemuMissingError("no qemu-system-arm: install the Debian package qemu-system-arm "
                               "(make test does)")
    return found


def argv(options: dict[str, str], script: tuple[str, ...] = (), serials: tuple[str, ...] =
         ("stdio",), icount: bool = False) -> list[str]:
    """The qemu-system-arm command line of one boot (`serials`: UART0, UART1, ...)."""
    args = [f"{k}={v}" for k, v in options.items()] + list(script)
    bad = [a for a in args if "," in a or " " in a]
    if bad:
        raise ValueError(f"QEMU boot arguments cannot hold commas or spaces: {bad[0]}")
    cmd = [binary(), "-M", MACHINE, "-display", "none", "-monitor", "none", "-nodefaults",
           "-nic", "none"]
    for s in serials:
        cmd += ["-serial", s]
    if icount:
        cmd += ["-icount", ICOUNT]
    cmd += ["-semihosting-config", "enable=on,target=native," + ",".join(f"arg={a}"
                                                                        for a in args)]
    return cmd + ["-kernel", str(qemu_image())]


def _fs(blocks: int, mount: bool = True, block: int = BLOCK_SIZE) -> LittleFS:
    return LittleFS(block_size=block, block_count=blocks, prog_size=min(PROG_SIZE, block),
                    read_size=32, mount=mount)


def blank_flash(path: Path, blocks: int = BOARD_BLOCKS, files: dict[str, bytes] | None =
                None, block: int = BLOCK_SIZE) -> None:
    """A formatted flash chip in the host file `path`, holding `files` (guest path: bytes)."""
    fs = _fs(blocks, block=block)
    for name, data in (files or {}).items():
        fs.makedirs(os.path.dirname(name) or "/", exist_ok=True)
        with fs.open(name, "wb") as f:
            f.write(data)
    path.write_bytes(bytes(fs.context.buffer))


def read_flash(path: Path, blocks: int, folder: str, block: int = BLOCK_SIZE
               ) -> dict[str, bytes] | None:
    """Every file under `folder` on the flash in `path` (guest path: bytes); None if absent."""
    fs = _fs(blocks, mount=False, block=block)
    fs.context.buffer = bytearray(path.read_bytes())
    fs.mount()
    try:
        fs.stat(folder)
    except Exception:  # littlefs-python raises its LittleFSError(-2) for a missing name
        return None
    found = {}
    for top, _dirs, names in fs.walk(folder):
        for name in names:
            p = top.rstrip("/") + "/" + name
            with fs.open(p, "rb") as f:
                found[p] = f.read()
    return found


def _inputs(args: tuple[str, ...], path: tuple[Path, ...]) -> tuple[dict[str, bytes],
                                                                      list[Path]]:
    """Files to copy in (at their host paths) and the folders to copy back afterwards."""
    files, outputs = {}, []

    def add_tree(folder: Path) -> None:
        for f in folder.rglob("*"):
            if f.is_file() and "__pycache__" not in f.parts:
                files[str(f)] = f.read_bytes()

    for folder in path:
        add_tree(Path(folder))
    for a in args:
        p = Path(a)
        if not p.is_absolute():
            continue
        if p.is_file():
            files[str(p)] = p.read_bytes()
        elif p.is_dir():
            add_tree(p)
            outputs.append(p)
        elif p.parent.is_dir():  # a folder or file the script makes
            outputs.append(p)
    for p in outputs:  # the folders a script writes into must exist on the flash too
        files.setdefault(str(p.parent / ".upurse-keep"), b"")
    return files, outputs


def _copy_back(image: Path, blocks: int, outputs: list[Path], block: int) -> None:
    for out in outputs:
        found = read_flash(image, blocks, str(out), block)
        if found is None:
            continue
        if out.is_dir():
            for old in [f for f in out.rglob("*") if f.is_file()]:
                if str(old) not in found:
                    old.unlink()  # the script removed it
        for name, data in found.items():
            if Path(name).name == ".upurse-keep":
                continue
            host = Path(name)
            if host == out and out.is_dir():
                continue
            host.parent.mkdir(parents=True, exist_ok=True)
            host.write_bytes(data)


def _script_boot(tmp: Path, script: Path, args: tuple[str, ...], heap: str | None,
                 path: tuple[Path, ...], lib: tuple[Path, ...],
                 **boot) -> tuple[list[str], list[Path], int]:
    """The command line booting `script` from a fresh flash in `tmp`, the folders to copy
    back afterwards and the flash's size in blocks."""
    files, outputs = _inputs(args, (script.parent, *path, *lib))
    size = sum(len(d) + SCRIPT_BLOCK for d in files.values())
    blocks = max(SCRIPT_FLASH // SCRIPT_BLOCK, 2 * size // SCRIPT_BLOCK + 64)
    blank_flash(tmp / "flash.img", blocks, files, SCRIPT_BLOCK)
    options = {"seed": str(secrets.randbits(31)), "flash": str(tmp / "flash.img"),
               "blocks": str(blocks), "block": str(SCRIPT_BLOCK),
               "path": ":".join(str(p) for p in path), "lib": ":".join(str(p) for p in lib)}
    if heap:
        options = {"heap": heap, **options}
    return argv(options, (str(script), *args), **boot), outputs, blocks


def run_script(script: str | Path, *args: str, heap: str | None = None,
               path: tuple[Path, ...] = (), lib: tuple[Path, ...] = (), timeout: float = 300,
               icount: bool = False) -> subprocess.CompletedProcess:
    """Run a firmware-side script on the QEMU board; its exit status and console output.
    `path`: folders of helpers, searched after the frozen firmware; `lib`: folders searched
    before it (the firmware as .mpy files on the flash instead of frozen)."""
    with tempfile.TemporaryDirectory(prefix="upurse-qemu-") as tmp:
        cmd, outputs, blocks = _script_boot(Path(tmp), Path(script), args, heap, path, lib,
                                            icount=icount)
        try:
            proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                                  text=True, errors="replace", timeout=timeout,
                                  preexec_fn=_background)
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) \
                else (e.stdout or "")
            return subprocess.CompletedProcess(cmd, -9, out + f"\n(QEMU timed out after "
                                               f"{timeout:.0f} s)", "")
        _copy_back(Path(tmp) / "flash.img", blocks, outputs, SCRIPT_BLOCK)
        proc.stdout = proc.stdout.replace("\r\n", "\n")  # the console's line ends
        return proc


def spawn_script(script: str | Path, *args: str, uarts: tuple[str, ...] = (),
                 heap: str | None = None, path: tuple[Path, ...] = ()) -> subprocess.Popen:
    """Start a script on the QEMU board as a rig board: UART1, UART2... on the tty devices
    `uarts` (the simulated field's ptys); console output comes back as text on stdout. The
    board's clock counts its instructions (icount), so a host too busy to run it does not make
    its PN532 time out: its deadlines pass only as fast as it runs."""
    tmp = tempfile.TemporaryDirectory(prefix="upurse-qemu-")
    cmd, _, _ = _script_boot(Path(tmp.name), Path(script), args, heap, path, (),
                             serials=("stdio", *uarts), icount=True)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="replace")
    proc.flash_folder = tmp  # removed with the process object
    return proc


def board_setting(name: str):
    """A constant of boards/qemu/board.py, read from its source (it runs on the board only)."""
    import ast

    tree = ast.parse(BOARD_PY.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] \
                == [name]:
            return ast.literal_eval(node.value) if not isinstance(node.value, ast.BinOp) \
                else eval(compile(ast.Expression(node.value), str(BOARD_PY), "eval"))  # noqa: S307
    raise KeyError(name)


class CardBoard:
    """A card board on QEMU, its APDUs framed on the console (link wired), as
    upurse.cardproc.CardProcess runs one on the unix port. Its flash is made from the card's
    host folder at boot and written back to it when the board is switched off (`close`), so
    the folder stays the host's view of the card. `lib`: folders of .mpy firmware to boot from
    instead of the frozen one."""

    def __init__(self, store: Path, heap: str | None = None, lib: tuple[Path, ...] = ()):
        self.store = Path(store)
        self._tmp = Path(tempfile.mkdtemp(prefix="upurse-qemu-card-"))
        self.image = self._tmp / "flash.img"
        storage = board_setting("STORAGE")
        # a frozen build boots the frozen card/main.py; an .mpy build's main.py is the source,
        # as `make flash-card` copies it
        main = (FIRMWARE / "card" / "main.py").read_bytes() if lib else b"import card.main\n"
        files = {"/main.py": main}
        if self.store.is_dir():
            for f in self.store.rglob("*"):
                if f.is_file():
                    files[f"{storage}/{f.relative_to(self.store)}"] = f.read_bytes()
        for folder in lib:
            for f in Path(folder).rglob("*.mpy"):
                files[str(f)] = f.read_bytes()
        blank_flash(self.image, BOARD_BLOCKS, files)
        options = {"heap": heap or str(board_setting("CARD_HEAP")),
                   "seed": str(secrets.randbits(31)), "flash": str(self.image),
                   "blocks": str(BOARD_BLOCKS), "link": "wired",
                   "lib": ":".join(str(p) for p in lib)}
        self.proc = subprocess.Popen(argv(options, ("/main.py",)), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     preexec_fn=_background)
        self._storage = storage

    def close(self) -> None:
        """Switch the board off (a power cut: the flash holds what was written) and bring the
        card's flash back to its folder."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        found = read_flash(self.image, BOARD_BLOCKS, self._storage) or {}
        self.store.mkdir(parents=True, exist_ok=True)
        for old in [f for f in self.store.rglob("*") if f.is_file()]:
            if f"{self._storage}/{old.relative_to(self.store)}" not in found:
                old.unlink()
        for name, data in found.items():
            host = self.store / name[len(self._storage) + 1:]
            host.parent.mkdir(parents=True, exist_ok=True)
            host.write_bytes(data)
        shutil.rmtree(self._tmp, ignore_errors=True)
