"""PN532 host-link frames as the chip writes and parses them (NXP UM0701-02 §6.2.1).

Written apart from firmware/drivers/pn532_frame.py on purpose: the simulator checks the driver,
so the two must not share a mistake.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

ACK = bytes.fromhex("0000ff00ff00")  # §6.2.1.3
NACK = bytes.fromhex("0000ffff0000")  # §6.2.1.4
ERROR = bytes.fromhex("0000ff01ff7f8100")  # §6.2.1.5 syntax error frame
TFI_HOST = 0xD4
TFI_CHIP = 0xD5
DATA_MAX = 265  # §6.2.1.2: TFI + PD0..PDn in an extended frame


class Kind(Enum):
    ACK = "ack"
    NACK = "nack"
    INFO = "info"  # a valid information frame: tfi + data
    BAD = "bad"  # checksums do not add up: the chip drops it without an ACK


@dataclass(frozen=True)
class Frame:
    kind: Kind
    tfi: int = 0
    data: bytes = b""  # PD0 (command code) .. PDn


def info_frame(tfi: int, data: bytes) -> bytes:
    """00 00 FF LEN LCS TFI PD.. DCS 00; extended (FF FF LENM LENL LCS) above 255 (§6.2.1.2)."""
    body = bytes([tfi]) + data
    if len(body) > DATA_MAX:
        raise ValueError(f"{len(body)} bytes exceed the PN532 frame")
    if len(body) <= 255:
        head = bytes([0x00, 0x00, 0xFF, len(body), -len(body) & 0xFF])
    else:
        hi, lo = divmod(len(body), 256)
        head = bytes([0x00, 0x00, 0xFF, 0xFF, 0xFF, hi, lo, -(hi + lo) & 0xFF])
    return head + body + bytes([-sum(body) & 0xFF, 0x00])


def response(command: int, data: bytes = b"") -> bytes:
    return info_frame(TFI_CHIP, bytes([command + 1]) + data)


class FrameReader:
    """Incremental parser of the bytes a host writes: frames out, preamble and junk skipped."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self.buf += data
        frames = []
        while (frame := self._next()) is not None:
            frames.append(frame)
        return frames

    def _next(self) -> Frame | None:
        buf = self.buf
        i = buf.find(b"\x00\xff")
        if i < 0:
            del buf[: max(0, len(buf) - 1)]  # keep a trailing 00 that may start a start code
            return None
        del buf[:i]
        if len(buf) < 4:
            return None
        a, b = buf[2], buf[3]
        if (a, b) == (0x00, 0xFF):
            del buf[:4]
            return Frame(Kind.ACK)
        if (a, b) == (0xFF, 0x00):
            del buf[:4]
            return Frame(Kind.NACK)
        if (a, b) == (0xFF, 0xFF):
            if len(buf) < 7:
                return None
            size = buf[4] << 8 | buf[5]
            if (buf[4] + buf[5] + buf[6]) & 0xFF or not 0 < size <= DATA_MAX:
                del buf[:2]  # not a frame after all: look for the next start code
                return Frame(Kind.BAD)
            body_at = 7
        else:
            if (a + b) & 0xFF or a == 0:
                del buf[:2]
                return Frame(Kind.BAD)
            size = a
            body_at = 4
        if len(buf) < body_at + size + 1:
            return None
        body = bytes(buf[body_at : body_at + size])
        dcs = buf[body_at + size]
        del buf[: body_at + size + 1]  # the postamble, if any, is junk for the next search
        if (sum(body) + dcs) & 0xFF:
            return Frame(Kind.BAD)
        return Frame(Kind.INFO, body[0], body[1:])
