"""A card in one of vsmartcard's virtual readers: pcscd's APDUs over vpcd's TCP link, answered
by the card firmware running as its own process (upurse.cardproc, the wired link).

vpcd listens on 35963 + slot. Each message either way is a 2-byte big-endian length and a
payload. From vpcd, a 1-byte payload is a control: 00 power off, 01 power on, 02 reset, 04 the
ATR (answered with it); anything else is a command APDU, answered with the response APDU. The
card is in the reader while the connection is open: closing it takes the card away.

Power follows the reader: off ends the card process (a contactless card loses its RAM when it
leaves the field), on or reset starts a fresh one on the same flash.
"""
from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable
from contextlib import suppress

from upurse.cardproc import LinkError

VPCD_PORT = 35963
POWER_OFF, POWER_ON, RESET, GET_ATR = 0x00, 0x01, 0x02, 0x04
# PC/SC part 3 (3.1.3.2.3.1): the ATR a reader makes for an ISO 14443-4 type A card from its
# ATS; ours has no historical bytes: 3B 80 80 01, TCK = XOR of T0..TD2 = 01
ATR = bytes.fromhex("3B80800101")


class VirtualCard:
    """Card `open_card()` (a fresh channel with transmit() and close()) in vpcd's slot."""

    def __init__(self, slot: int, open_card: Callable[[], object], name: str = "") -> None:
        self.slot, self.open_card, self.name = slot, open_card, name
        self.card = None
        self.answered = 0  # commands answered
        self.longest = 0  # bytes of the longest of them
        self.cut: int | None = None  # INS of the command that found the card gone
        self._cut_after: int | None = None
        self.seen = threading.Event()  # vpcd has asked for the ATR: pcscd knows the card
        self.sock = socket.create_connection(("127.0.0.1", VPCD_PORT + slot), timeout=5)
        self.sock.settimeout(None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.thread = threading.Thread(target=self._serve, name=f"vicc-{slot}", daemon=True)
        self.thread.start()

    def pull_after(self, answered: int) -> None:
        """Leave the reader when the command after the next `answered` ones arrives: it never
        reaches the card, as when a person takes the card away mid-transaction."""
        self._cut_after = self.answered + answered

    def remove(self) -> None:
        """Take the card out of the reader (vpcd sees the connection close)."""
        with suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.thread.join(timeout=5)

    def _recv(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            # vpcd writes the length and the payload apart: acknowledge at once, or the
            # delayed ACK holds its second write back 40 ms
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def _send(self, payload: bytes) -> None:
        self.sock.sendall(struct.pack(">H", len(payload)) + payload)

    def _power(self, on: bool) -> None:
        if self.card is not None:
            self.card.close()
            self.card = None
        if on:
            self.card = self.open_card()

    def _serve(self) -> None:
        try:
            while True:
                (size,) = struct.unpack(">H", self._recv(2))
                msg = self._recv(size)
                if size == 1:
                    if msg[0] == GET_ATR:
                        self._send(ATR)
                        self.seen.set()
                    elif msg[0] in (POWER_ON, RESET):
                        self._power(True)
                    elif msg[0] == POWER_OFF:
                        self._power(False)
                    continue
                if self.answered == self._cut_after:
                    self.cut = msg[1] if len(msg) > 1 else None
                    return  # the card is gone before the command reaches it
                if self.card is None:
                    self._power(True)
                self._send(self.card.transmit(msg))
                self.answered += 1
                self.longest = max(self.longest, size)
        except (EOFError, OSError, LinkError):  # taken away, or the card process died
            pass
        finally:
            with suppress(OSError):
                self.sock.close()
            self._power(False)
