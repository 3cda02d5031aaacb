"""An emulated board: the MicroPython unix port behind a pseudo-terminal, as a dev board sits
behind its USB serial port.

The board's console is a pty that stays put across reboots (`port`, what mpremote or the host
opens); its flash is a folder, the process's working directory (the unix port's VfsPosix).
Boot runs `micropython -i main.py` when the flash holds a main.py, as a board runs /main.py
and then drops to the REPL; else the main.py of a firmware build folder (what the rig boots:
the same .mpy files a real board gets), else the role's main.py from source, else the REPL.

What the unix port lacks and a board has, the relay in between provides:
- Ctrl-C while main.py runs becomes SIGINT (a KeyboardInterrupt, as a board's console raises);
  what the host sends next waits until the REPL prompts (the unix REPL flushes early input);
- the process ending is a reboot: it is started again. After a raw-REPL soft reset (Ctrl-D at an
  empty raw prompt: mpremote's auto soft reset) the board comes back in the raw REPL saying
  "soft reboot", as MicroPython boards do; after anything else (machine.soft_reset(), sys.exit(),
  a crash, the friendly REPL's Ctrl-D) it boots main.py again.
"""
from __future__ import annotations

import os
import selectors
import signal
import subprocess
import termios
import threading
import time
import tty
from pathlib import Path

from upurse.interpreters import micropython_binary
from upurse.port import FIRMWARE

BOARDS = FIRMWARE.parent / "boards"
BANNER = b'Type "help()" for more information.'
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
OUTBOX_MAX = 1 << 16  # console output kept for a slow reader; older output is dropped


class EmulatedBoard:
    def __init__(self, name: str, flash: Path, *, firmware: Path | None = None,
                 role: str | None = None, env: dict[str, str] | None = None,
                 heap: str | None = None, log: Path | None = None) -> None:
        self.name = name
        self.flash = Path(flash)
        self.firmware = firmware  # a build folder (upurse.build) to boot when flash has none
        self.role = role  # "card" or "terminal": its main.py from source if neither
        self.env = dict(env or {})
        self.heap = heap
        self.log_path = log
        self.boots = 0
        self.proc: subprocess.Popen | None = None
        self._master, self._slave = os.openpty()  # the console the host opens
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.port = os.ttyname(self._slave)
        self._inner_m = self._inner_s = -1
        self._lock = threading.RLock()
        self._running = False
        self._thread: threading.Thread | None = None
        self._state = "main"  # "main" (main.py runs), "repl", "raw"
        self._raw_empty = False  # at the raw prompt with nothing typed since
        self._soft_reset = False  # Ctrl-D at an empty raw prompt: come back in the raw REPL
        self._out = bytearray()  # console output not yet taken by the host side of the pty
        self._in = bytearray()  # host input waiting for the process
        self._tail = b""  # the last console bytes, to spot banners split across reads
        self._raw_boot = False  # swallow output until the new process shows the raw banner
        self._holding = False  # host input held until the REPL prompts (it flushes input)
        self._held = bytearray()
        self._log = open(log, "ab") if log else None  # noqa: SIM115 - closed in stop()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> EmulatedBoard:
        with self._lock:
            self._running = True
            self._boot(raw=False)
        self._thread = threading.Thread(target=self._run, name=f"board-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            self._running = False
            self._kill()
        os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._close_inner()
        if self._log:
            self._log.close()
            self._log = None

    def reboot(self, env: dict[str, str] | None = None, between=None) -> None:
        """Power-cycle the board, optionally with new environment (e.g. another card's flash);
        `between()` runs once the old process is dead and before the new one starts."""
        with self._lock:
            if env is not None:
                self.env = dict(env)
            self._kill()
            if between is not None:
                between()
            self._boot(raw=False)
        os.write(self._wake_w, b"x")

    def __enter__(self) -> EmulatedBoard:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def argv(self) -> tuple[list[str], dict[str, str]]:
        """How this board boots now: the flash's main.py, the role's main.py, or the REPL."""
        argv = [micropython_binary()]
        if self.heap:
            argv += ["-X", f"heapsize={self.heap}"]
        env = dict(os.environ, **self.env)
        main = self.flash / "main.py"
        if main.exists():
            env["MICROPYPATH"] = ".frozen"  # sys.path[0] is the flash: only what was copied
            return argv + ["-i", "main.py"], env
        if self.firmware is not None:
            env["MICROPYPATH"] = f"{self.firmware}:.frozen"
            return argv + ["-i", str(Path(self.firmware) / "main.py")], env
        env["MICROPYPATH"] = f"{BOARDS / 'unix'}:{FIRMWARE}:.frozen"
        if self.role:
            return argv + ["-i", str(FIRMWARE / self.role / "main.py")], env
        return argv, env

    def _boot(self, raw: bool) -> None:
        self._close_inner()
        self._inner_m, self._inner_s = os.openpty()
        tty.setraw(self._inner_s)
        os.set_blocking(self._inner_m, False)
        self.flash.mkdir(parents=True, exist_ok=True)
        argv, env = self.argv() if not raw else (self._repl_argv(), self._repl_env())
        self._state = "repl" if raw else ("main" if "-i" in argv else "repl")
        self._raw_boot = raw
        self._raw_empty = self._soft_reset = False
        self._holding = self._state == "repl"  # until the REPL's first prompt
        self._held.clear()
        self._tail = b""
        self._in.clear()
        self.proc = subprocess.Popen(argv, env=env, cwd=self.flash, stdin=self._inner_s,
                                     stdout=self._inner_s, stderr=self._inner_s,
                                     start_new_session=True, close_fds=True)
        self.boots += 1

    def _repl_argv(self) -> list[str]:
        argv = [micropython_binary()]
        return argv + (["-X", f"heapsize={self.heap}"] if self.heap else [])

    def _repl_env(self) -> dict[str, str]:
        env = dict(os.environ, **self.env)
        env["MICROPYPATH"] = ".frozen"
        return env

    def _kill(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if proc is not None:
            proc.wait()

    def _close_inner(self) -> None:
        for fd in (self._inner_m, self._inner_s):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._inner_m = self._inner_s = -1

    # -- the relay ----------------------------------------------------------------------------

    def _from_host(self, data: bytes) -> None:
        for b in data:
            if self._holding:  # the REPL is not up yet: it would flush what came early
                self._held.append(b)
                continue
            if b == 0x03 and self._state == "main" and self.proc is not None:
                os.killpg(self.proc.pid, signal.SIGINT)  # the console's interrupt character
                self._holding = True
                continue
            if self._state == "raw":
                if b == 0x04 and self._raw_empty:
                    self._soft_reset = True
                elif b not in (0x01, 0x03, 0x0D):
                    self._raw_empty = False
            self._in.append(b)

    def _from_board(self, data: bytes) -> None:
        old = len(self._tail)
        seen = self._tail + data
        self._tail = seen[-64:]

        def last(pattern: bytes) -> int:
            """End of the last `pattern` that takes bytes from `data`, else -1."""
            at = seen.rfind(pattern)
            return at + len(pattern) if at >= 0 and at + len(pattern) > old else -1

        if self._holding and seen.endswith(b">>> "):  # the REPL reads now: let input in
            held = (b"\x01" if self._raw_boot else b"") + bytes(self._held)
            self._holding = False
            self._held.clear()
            self._state = "repl"
            self._from_host(held)
        if self._raw_boot:  # back from a soft reset: only the raw banner goes out
            at = seen.find(RAW_BANNER)
            if at < 0:
                return
            self._raw_boot = False
            data = b"MPY: soft reboot\r\n" + seen[at:]
        friendly, raw = last(BANNER), last(RAW_BANNER)
        if raw > friendly:
            self._state = "raw"
        elif friendly > raw:
            self._state = "repl"
        if self._state == "raw":
            if seen.endswith(b"\x04>") or seen.endswith(RAW_BANNER + b">"):
                self._raw_empty = True  # a raw prompt with nothing typed yet
        if self._log:
            self._log.write(data)
            self._log.flush()
        self._out += data
        if len(self._out) > OUTBOX_MAX:
            del self._out[: len(self._out) - OUTBOX_MAX]

    def _exited(self) -> None:
        """The process ended: the board reboots (see the module docstring)."""
        soft, self._soft_reset = self._soft_reset and self._state == "raw", False
        self._kill()
        if self._running:
            if not soft and self._log:
                self._log.write(b"\r\n[emulated board: reboot]\r\n")
            self._boot(raw=soft)

    def _pump(self) -> None:
        """Move bytes both ways; non-blocking."""
        if self._out:
            try:
                n = os.write(self._master, self._out)
                del self._out[:n]
            except BlockingIOError:
                # nobody reads the console: drop what waits on its input side, keep ours
                termios.tcflush(self._slave, termios.TCIFLUSH)
            except OSError:
                pass
        if self._in and self._inner_m >= 0:
            try:
                n = os.write(self._inner_m, self._in)
                del self._in[:n]
            except (BlockingIOError, OSError):
                pass

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._master, selectors.EVENT_READ, "host")
        sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        inner, boot = -1, -1  # the pty watched, and of which boot (fd numbers are reused)
        while True:
            with self._lock:
                if not self._running:
                    break
                if boot != self.boots:
                    if inner >= 0:
                        try:
                            sel.unregister(inner)
                        except (KeyError, ValueError):
                            pass
                    inner, boot = self._inner_m, self.boots
                    sel.register(inner, selectors.EVENT_READ, "board")
                self._pump()
                busy = bool(self._out or self._in)
            events = sel.select(0.01 if busy else 0.2)
            with self._lock:
                if not self._running:
                    break
                for key, _ in events:
                    if key.data == "wake":
                        os.read(self._wake_r, 64)
                        continue
                    try:
                        data = os.read(key.fd, 4096)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:  # EIO: the process side of the pty is gone
                        data = b""
                    if key.data == "host":
                        self._from_host(data)
                    elif key.fd == self._inner_m and data:
                        self._from_board(data)
                if self.proc is not None and self.proc.poll() is not None:
                    self._drain()
                    self._exited()
        sel.close()

    def _drain(self) -> None:
        """Take the last output of a process that just ended."""
        deadline = time.monotonic() + 0.05
        while time.monotonic() < deadline:
            try:
                data = os.read(self._inner_m, 4096)
            except (BlockingIOError, OSError):
                break
            if not data:
                break
            self._from_board(data)
