"""A pcapng writer for ISO/IEC 14443 traces that Wireshark reads (LINKTYPE_ISO_14443, 264).

Each packet is a 4-byte pseudo-header (version 0, event, length of the rest, big-endian) and
the frame as it crossed the air. One interface per reader. Blocks are written as they come, so
a capture being written can be followed (`tail -c +1 -f FILE | wireshark -k -i -`).

    with PcapngWriter(open("air.pcapng", "wb"), ["A", "B"]) as w:
        w.packet("A", time.time(), EVENT_TO_CARD, b"\\x26")
"""
from __future__ import annotations

import struct
from typing import BinaryIO

LINKTYPE_ISO_14443 = 264
EVENT_TO_READER = 0xFF  # data, card (PICC) to reader (PCD), CRC included
EVENT_TO_CARD = 0xFE  # data, reader to card, CRC included
EVENT_FIELD_OFF = 0xFD
EVENT_FIELD_ON = 0xFC
EVENT_TO_READER_NO_CRC = 0xFB  # frames that carry no CRC (REQA, ATQA, anticollision)
EVENT_TO_CARD_NO_CRC = 0xFA

_SHB, _IDB, _EPB = 0x0A0D0D0A, 0x00000001, 0x00000006
_BYTE_ORDER = 0x1A2B3C4D
_OPT_END, _OPT_COMMENT, _OPT_NAME = 0, 1, 2
_SHB_USERAPPL = 4


def _option(code: int, value: bytes) -> bytes:
    pad = -len(value) % 4
    return struct.pack("<HH", code, len(value)) + value + b"\x00" * pad


def _block(kind: int, body: bytes) -> bytes:
    size = 12 + len(body)
    return struct.pack("<II", kind, size) + body + struct.pack("<I", size)


class PcapngWriter:
    def __init__(self, out: BinaryIO, interfaces: list[str], app: str = "upurse") -> None:
        self.out = out
        self.ids = {name: i for i, name in enumerate(interfaces)}
        opts = _option(_SHB_USERAPPL, app.encode()) + _option(_OPT_END, b"")
        self.out.write(_block(_SHB, struct.pack("<IHHq", _BYTE_ORDER, 1, 0, -1) + opts))
        for name in interfaces:
            opts = _option(_OPT_NAME, name.encode()) + _option(_OPT_END, b"")
            self.out.write(_block(_IDB, struct.pack("<HHI", LINKTYPE_ISO_14443, 0, 0) + opts))
        self.out.flush()

    def packet(self, interface: str, when: float, event: int, frame: bytes = b"",
               comment: str | None = None) -> None:
        """One ISO 14443 event at `when` (seconds since the epoch, microsecond resolution)."""
        data = struct.pack(">BBH", 0, event, len(frame)) + frame
        usec = round(when * 1_000_000)
        body = struct.pack("<IIIII", self.ids[interface], usec >> 32, usec & 0xFFFFFFFF,
                           len(data), len(data)) + data + b"\x00" * (-len(data) % 4)
        if comment:
            body += _option(_OPT_COMMENT, comment.encode()) + _option(_OPT_END, b"")
        self.out.write(_block(_EPB, body))
        self.out.flush()

    def close(self) -> None:
        self.out.close()

    def __enter__(self) -> PcapngWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
