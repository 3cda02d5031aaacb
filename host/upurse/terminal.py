"""The host's side of the terminal board's JSON-lines service (firmware/terminal/service.py),
over its USB serial port: a real board's /dev/ttyUSB0, an emulated board's pty, or a pyserial
URL such as rfc2217://host:port (ser2net, a labgrid exporter).

    with Terminal("/dev/ttyACM0") as t:
        t.request("status")["readers"]
        receipt = t.request("transfer", purse="money", amount=100, date=20260705)["receipt"]

A reply with "ok": false raises TerminalError (its `step` names the seed step, if any). Lines
that are not replies to this request (boot banner, logs, late replies) are skipped.
"""
from __future__ import annotations

import itertools
import json
import time
from typing import Self

import serial


class TerminalError(Exception):
    """The terminal refused or failed a request; `reply` is all it said."""

    def __init__(self, reply: dict) -> None:
        super().__init__(reply.get("error", "terminal error"))
        self.reply = reply
        self.step = reply.get("step")
        self.reason = reply.get("reason") or reply.get("error", "")
        self.sw = reply.get("sw")


class TerminalTimeoutError(TerminalError):
    pass


class SerialDevice:
    """A board behind the pyserial port `self.serial`: close() and `with` let the port go."""

    serial: serial.Serial

    def close(self) -> None:
        self.serial.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Terminal(SerialDevice):
    def __init__(self, port: str, timeout: float = 30.0, baud: int = 115200) -> None:
        self.port = port
        self.timeout = timeout
        self.serial = serial.serial_for_url(port, baud, timeout=0.1)  # device or URL
        self.serial.reset_input_buffer()
        self._ids = itertools.count(int(time.time() * 1000) % 1_000_000)
        self.skipped: list[str] = []  # non-reply lines seen (logs), newest last

    def request(self, op: str, timeout: float | None = None, **fields) -> dict:
        """Send one request, return its reply (TerminalError if not ok)."""
        rid = next(self._ids)
        line = json.dumps({"op": op, "id": rid, **fields}, separators=(",", ":"))
        self.serial.write(line.encode() + b"\n")
        self.serial.flush()
        wait = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        buf = b""
        while time.monotonic() < deadline:
            chunk = self.serial.readline()
            if not chunk:
                continue
            buf += chunk
            if not buf.endswith(b"\n"):
                continue
            text, buf = buf.decode(errors="replace").strip(), b""
            reply = self._parse(text)
            if reply is None or reply.get("id") != rid:
                self.skipped = (self.skipped + [text])[-50:]
                continue
            if not reply.get("ok"):
                raise TerminalError(reply)
            return reply
        raise TerminalTimeoutError({"error": f"no reply from the terminal on {self.port} "
                                             f"to {op!r} within {wait:g} s"})

    @staticmethod
    def _parse(text: str) -> dict | None:
        if not text.startswith("{"):
            return None
        try:
            reply = json.loads(text)
        except ValueError:
            return None
        return reply if isinstance(reply, dict) else None

    def wait_ready(self, timeout: float = 10.0) -> dict:
        """Status, retried until the board answers (it may still be booting)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.request("status", timeout=1.0)
            except TerminalTimeoutError:
                if time.monotonic() > deadline:
                    raise
