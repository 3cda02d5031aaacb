"""The terminal's read/write means 301A and 301B: one PN532 reader each, one card per reader.

A Reader is a settlement channel (`transmit(bytes) -> bytes`) once `activate` found a card.
Its link can be traced: while tracing, every PN532 frame written or read is
appended to it as (">", bytes) or ("<", bytes), which is how the host sees APDUs inside
InDataExchange frames (UM0701-02 §7.3.8).
"""
from micropython import const

from drivers.pn532 import Pn532
from drivers.wiring import describe, transport

_LIST_MS = const(1500)  # how long activation waits for a card to answer


class Tap:
    """A transport that records the frames passing through it (only while `frames` is a list)."""

    def __init__(self, inner):
        self._t = inner
        self.frames = None

    def wakeup(self):
        self._t.wakeup()

    def write(self, frame):
        if self.frames is not None:
            self.frames.append((">", bytes(frame)))
        self._t.write(frame)

    def read_frame(self, buf, timeout_ms):
        n = self._t.read_frame(buf, timeout_ms)
        if n and self.frames is not None:
            self.frames.append(("<", bytes(buf[:n])))
        return n


class NoCard(Exception):
    """No card answered in a reader's field."""


class Reader:
    def __init__(self, label, desc):
        self.label = label  # "A" (payer side, 301A) or "B" (301B)
        self.desc = desc
        self.tap = None
        self.nfc = None
        self.firmware = None  # (IC, Ver, Rev, Support) once up
        self.error = None  # why the chip is not up, for status
        self.uid = None  # of the activated card, None when none is

    def up(self):
        """Bring the chip up (SAMConfiguration first); False, with `error` set, if it fails."""
        try:
            if self.nfc is None:
                self.tap = Tap(transport(self.desc))
                self.nfc = Pn532(self.tap)
            self.firmware = self.nfc.begin()
            self.error = None
        except Exception as e:  # noqa: BLE001 - reported by status, retried on next use
            self.firmware = None
            self.error = "%s %s" % (type(e).__name__, e)
        self.uid = None
        return self.firmware is not None

    def status(self):
        s = {"bus": describe(self.desc), "up": self.firmware is not None}
        if self.firmware:
            s["firmware"] = "%d.%d" % (self.firmware[1], self.firmware[2])
        if self.error:
            s["error"] = self.error
        if self.uid:
            s["active"] = self.uid
        return s

    def activate(self, timeout_ms=_LIST_MS):
        """Release any card, then activate the one in the field; its UID. NoCard if none."""
        if self.firmware is None and not self.up():
            raise NoCard("reader %s is down (%s)" % (self.label, self.error))
        self.release()
        try:
            uid = self.nfc.list_target(timeout_ms)
        except Exception:
            self.up()  # the chip may have reset under us: one more try on a fresh start
            uid = self.nfc.list_target(timeout_ms)
        if uid is None:
            raise NoCard("no card on reader %s" % self.label)
        self.uid = uid
        return uid

    def ensure(self):
        """The activated card's UID, activating one if none is."""
        return self.uid or self.activate()

    def transmit(self, apdu):
        return self.nfc.transmit(apdu)

    def release(self):
        if self.uid is not None:
            self.uid = None
            try:
                self.nfc.release()
            except Exception:  # noqa: BLE001 - a card already gone needs no release
                pass

    def trace(self, on):
        """Start (drop what was recorded) or stop recording frames."""
        if self.tap is not None:
            self.tap.frames = [] if on else None

    def take_frames(self):
        """The frames recorded since the last take."""
        if self.tap is None or self.tap.frames is None:
            return []
        got = self.tap.frames
        self.tap.frames = []
        return got
