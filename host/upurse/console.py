"""A board's serial console: opened by device or by pyserial URL, and soft-reset from whatever
state mpremote left it in.

Every port option of upurse takes a device (/dev/ttyACM0, an emulated board's pty) or a pyserial
URL (`rfc2217://host:port` from ser2net or a labgrid exporter, `socket://host:port`), so the
same commands and `make hil` reach boards on another machine.
"""
from __future__ import annotations

import time

import serial

CTRL_A, CTRL_B, CTRL_C, CTRL_D = b"\x01", b"\x02", b"\x03", b"\x04"
PROMPT = b">>> "


class ConsoleError(RuntimeError):
    """The console could not be opened or the board did not reach its REPL."""


def open_port(port: str, baud: int = 115200, timeout: float = 0.1) -> serial.SerialBase:
    """A device path or a pyserial URL (rfc2217://, socket://, loop://), opened."""
    try:
        return serial.serial_for_url(port, baud, timeout=timeout)
    except (serial.SerialException, ValueError) as e:
        raise ConsoleError(f"cannot open {port}: {e}") from None


def _read_until(con: serial.SerialBase, marker: bytes, timeout: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen += con.read(256)
        if seen.endswith(marker):
            return seen
    raise ConsoleError(f"the board on {con.portstr} did not reach its REPL "
                       f"(last output {seen[-60:]!r})")


def soft_reset(port: str, timeout: float = 5.0) -> None:
    """Bring the board at `port` back to its main.py: Ctrl-C stops what runs, Ctrl-B leaves
    the raw REPL (where mpremote leaves a board), Ctrl-D at the friendly prompt soft-resets,
    and MicroPython then runs main.py again."""
    with open_port(port) as con:
        con.write(CTRL_C + CTRL_C)
        time.sleep(0.2)  # a running main.py unwinds to the prompt
        con.reset_input_buffer()
        con.write(CTRL_B + b"\r")
        _read_until(con, PROMPT, timeout)
        con.write(CTRL_D)
        con.flush()
