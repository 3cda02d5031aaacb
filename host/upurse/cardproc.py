"""An emulated card: the card firmware running as its own process, APDUs over its stdin/stdout.

The process is `micropython firmware/card/main.py` on the `unix` board (or CPython with the
port shims, or the QEMU board: upurse.qemu.CardBoard); its flash is a folder on the host. The
link is the wired framing of common.wire, the same one a real board uses over USB serial.
"""
from __future__ import annotations

import subprocess
from collections import deque
from pathlib import Path

from common.wire import COMMAND, RESPONSE, frame, unframe  # noqa: E402  (port installed)
from upurse.interpreters import command
from upurse.port import FIRMWARE
from upurse.qemu import CardBoard

BOARDS = FIRMWARE.parent / "boards"


class LinkError(RuntimeError):
    """The card process did not answer."""


class CardProcess:
    def __init__(self, store: Path, interpreter: str = "micropython", heap: str | None = None,
                 path: tuple[Path, ...] = ()):
        """`path`: folders searched before firmware/, e.g. mpy-cross output (upurse.build)."""
        self.interpreter = interpreter
        self._console: deque[bytes] = deque(maxlen=4)
        self.board = None
        if interpreter == "qemu":  # the QEMU board: frozen firmware (or `path`'s .mpy files)
            self.board = CardBoard(store, heap=heap, lib=path)
            self.proc = self.board.proc
            return
        argv, env = command(interpreter, FIRMWARE / "card" / "main.py", heap=heap,
                            path=(*path, BOARDS / "unix"))
        env["UPURSE_STORE"] = str(store)
        env["UPURSE_LINK"] = "wired"
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)

    def transmit(self, apdu: bytes) -> bytes:
        try:
            self.proc.stdin.write(frame(COMMAND, apdu))
            self.proc.stdin.flush()
            while True:
                line = self.proc.stdout.readline()
                if not line:
                    raise LinkError(f"card process exited: {self._last_words()}")
                resp = unframe(RESPONSE, line)
                if resp is not None:
                    return resp
                self._console.append(line)  # a QEMU board reports a crash on its console
        except (BrokenPipeError, OSError) as e:
            raise LinkError(f"card process gone: {e}") from e

    def _last_words(self) -> str:
        """The last lines the card said before it ended: its console's, else its stderr's."""
        self.proc.wait(timeout=5)
        said = [line.decode(errors="replace").strip() for line in self._console]
        if not said:
            said = self.proc.stderr.read().decode(errors="replace").strip().splitlines()
        return " | ".join(said[-4:]) if said else "no output"

    def close(self) -> None:
        if self.board is not None:
            self.board.close()
            return
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> CardProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
