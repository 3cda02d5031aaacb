"""A simulated PN532 field: emulated reader and card PN532s on pseudo-terminals, and the air
between them.

Each emulated chip owns the master side of a pty; a board process (MicroPython unix port,
CPython port, libnfc...) opens the slave path and speaks the PN532 HSU protocol to it. Cards
are placed in a reader's field and taken out at any moment; every APDU that crosses the air
is traced.

    field = Field()
    a = field.add_reader("A")            # "/dev/pts/5": the terminal board opens it
    c = field.add_card("card-a")          # the card board opens this one
    field.place("card-a", "A")
    with field:                           # start() ... stop()
        ...
    [e for e in field.trace if e.direction == "cmd"]
    field.modelled()                      # each exchange's modelled ms on the reference rig

`on_exchange(entry)` runs in the simulator thread right after an entry is traced, before the
APDU reaches the card, so a test can `field.remove(card)` after the Nth command APDU.
"""
from __future__ import annotations

import heapq
import itertools
import os
import selectors
import threading
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dc_field

from upurse import tapmodel
from upurse.rig.chip import ATS_PREFIX, Activation, Card, Reader, SimPn532


@dataclass(frozen=True)
class Exchange:
    """One traced event on the air; `direction` is "cmd" (reader -> card APDU), "rsp"
    (card -> reader APDU), "activate" (data: the UID), "release" or "remove"."""

    time: float  # seconds since the field was made
    reader: str
    card: str
    direction: str
    data: bytes

    def __str__(self) -> str:
        return f"{self.time:9.4f} {self.reader} {self.direction:8} {self.card} {self.data.hex()}"


class _Timer:
    def __init__(self, fn: Callable[[], None]) -> None:
        self.fn = fn
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class _Link:
    """The pty of one chip: the simulator's master end and a slave end kept open."""

    name: str
    master: int
    slave: int
    path: str
    chip: SimPn532 | None = None
    outbox: bytearray = dc_field(default_factory=bytearray)
    events: int = selectors.EVENT_READ


class StubCard:
    """A card with no board behind it: always listening, answers APDUs with `respond`."""

    def __init__(self, field: Field, name: str, uid3: bytes,
                 respond: Callable[[bytes], bytes]) -> None:
        if len(uid3) != 3:
            raise ValueError("a PN532-emulated UID is 08h + 3 bytes")
        self.field, self.name, self.uid3, self.respond = field, name, uid3, respond
        self.reader: Reader | None = None

    def can_activate(self) -> bool:
        return self.reader is None

    def activation(self) -> Activation:
        return Activation(b"\x00\x04", 0x20, b"\x08" + self.uid3, b"\x05" + ATS_PREFIX)

    def rf_activate(self, reader: Reader, rats: bytes) -> None:
        self.reader = reader

    def rf_receive(self, reader: Reader, capdu: bytes) -> None:
        rapdu = self.respond(capdu)
        self.field.call_later(0, lambda: reader.rf_response(self, rapdu))

    def rf_release(self) -> None:
        self.reader = None

    def rf_frame(self, reader: Reader, frame: bytes) -> None:
        pass  # a stub runs ISO-DEP itself: it never gets frames


class Field:
    def __init__(self, buffer: int = 262,
                 on_exchange: Callable[[Exchange], None] | None = None) -> None:
        self.buffer = buffer  # PN532 data buffer per frame; smaller values force MI chaining
        self.on_exchange = on_exchange
        self.trace: list[Exchange] = []
        self.readers: dict[str, SimPn532] = {}
        self.cards: dict[str, Card] = {}
        self._where: dict[str, str] = {}  # card -> reader whose field it is in
        self._links: dict[str, _Link] = {}
        self._lock = threading.RLock()
        self._sel = selectors.DefaultSelector()
        self._closed = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._timers: list[tuple[float, int, _Timer]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._running = False
        self._t0 = time.monotonic()
        self.epoch = time.time()  # wall clock at time 0 of the trace (pcapng timestamps)

    # -- building the rig ---------------------------------------------------------------------

    def add_reader(self, name: str) -> str:
        """A reader PN532; returns the pty path its board opens."""
        chip = self._add_chip(name)
        self.readers[name] = chip
        return self._links[name].path

    def add_card(self, name: str) -> str:
        """A card board's PN532 (target mode); returns the pty path its board opens."""
        chip = self._add_chip(name)
        self.cards[name] = chip
        return self._links[name].path

    def add_stub_card(self, name: str, uid3: bytes = b"\x12\x34\x56",
                      respond: Callable[[bytes], bytes] = lambda apdu: b"\x90\x00") -> StubCard:
        with self._lock:
            card = StubCard(self, name, uid3, respond)
            self.cards[name] = card
            return card

    def _add_chip(self, name: str) -> SimPn532:
        if name in self._links or name in self.cards:
            raise ValueError(f"{name!r} is already in the field")
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        link = _Link(name, master, slave, os.ttyname(slave))
        with self._lock:
            link.chip = SimPn532(name, self, lambda data: self._send(link, data), self.buffer)
            self._links[name] = link
            self._sel.register(master, selectors.EVENT_READ, link)
        return link.chip

    def path(self, name: str) -> str:
        return self._links[name].path

    def chip(self, name: str) -> SimPn532:
        """The emulated PN532 `name` (its `received` and `sent` logs outlive stop())."""
        chip = self.readers.get(name) or self.cards.get(name)
        if not isinstance(chip, SimPn532):
            raise KeyError(f"no emulated PN532 {name!r}")
        return chip

    # -- the air ------------------------------------------------------------------------------

    def place(self, card: str, reader: str) -> None:
        """Put a card in a reader's field (out of any other first)."""
        with self._lock:
            if self._where.get(card) not in (None, reader):
                self.remove(card)
            if card not in self.cards or reader not in self.readers:
                raise KeyError(f"no card {card!r} or no reader {reader!r}")
            self._where[card] = reader
            self.readers[reader].try_activate()

    def remove(self, card: str) -> None:
        """Take a card out of the field: the reader's running exchange times out (status 01h),
        the card's PN532 reports release (29h)."""
        with self._lock:
            reader = self._where.pop(card, None)
            if reader is None:
                return
            self.record(reader, card, "remove", b"")
            target = self.cards[card]
            self.readers[reader].rf_card_left(target)
            target.rf_release()

    def where(self, card: str) -> str | None:
        with self._lock:
            return self._where.get(card)

    def cards_in(self, reader: SimPn532) -> list[Card]:
        return [self.cards[c] for c, r in self._where.items() if r == reader.name]

    def card_armed(self, card: Card) -> None:
        reader = self._where.get(card.name)
        if reader is not None:
            self.readers[reader].rf_card_armed(card)

    def record(self, reader: str, card: str, direction: str, data: bytes) -> None:
        entry = Exchange(time.monotonic() - self._t0, reader, card, direction, bytes(data))
        self.trace.append(entry)
        if self.on_exchange is not None:
            self.on_exchange(entry)

    def apdus(self, direction: str = "cmd") -> list[bytes]:
        with self._lock:
            return [e.data for e in self.trace if e.direction == direction]

    def modelled(self, rig: tapmodel.Rig | None = None) -> list[dict]:
        """Each APDU exchange traced so far with its modelled time on the reference rig
        (upurse.tapmodel, docs/performance.md): ms by cause. The simulator runs no card CPU
        or flash of a board, so those causes are left out (0) here; the bench adds them."""
        rig = rig or tapmodel.Rig()
        pending: dict[str, Exchange] = {}
        out = []
        with self._lock:
            for e in self.trace:
                if e.direction == "cmd":
                    pending[e.reader] = e
                elif e.direction == "rsp" and e.reader in pending:
                    c = pending.pop(e.reader)
                    parts, frames = tapmodel.exchange_parts(
                        rig, tapmodel.Exchange(c.data[1:2].hex(), len(c.data), len(e.data)))
                    out.append({"reader": e.reader, "card": e.card, "cmd": len(c.data),
                                "rsp": len(e.data), "frames": frames,
                                "ms": {k: v * 1000 for k, v in parts.items()}})
        return out

    def wait(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Poll `predicate` (under the field lock) until true or `timeout` seconds pass."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if predicate():
                    return True
            time.sleep(0.005)
        return False

    # -- timers and the simulator thread ------------------------------------------------------

    def call_later(self, delay: float, fn: Callable[[], None]) -> _Timer:
        timer = _Timer(fn)
        with self._lock:
            heapq.heappush(self._timers, (time.monotonic() + delay, next(self._seq), timer))
        self._poke()
        return timer

    def _poke(self) -> None:
        try:
            os.write(self._wake_w, b"\x00")
        except BlockingIOError:
            pass

    def _send(self, link: _Link, data: bytes) -> None:
        link.outbox += data
        self._flush(link)
        if link.outbox:
            self._poke()

    def _flush(self, link: _Link) -> None:
        while link.outbox:
            try:
                n = os.write(link.master, link.outbox)
            except BlockingIOError:
                return
            del link.outbox[:n]

    def start(self) -> Field:
        if self._thread is None:
            self._running = True
            self._thread = threading.Thread(target=self._run, name="pn532-field", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the simulator thread and close the ptys; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._running = False
            self._poke()
            self._thread.join(timeout=5)
            self._thread = None
        for link in self._links.values():
            self._sel.unregister(link.master)
            os.close(link.master)
            os.close(link.slave)
        self._links.clear()
        self._sel.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def __enter__(self) -> Field:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while self._running:
            with self._lock:
                for link in self._links.values():
                    want = selectors.EVENT_READ | (selectors.EVENT_WRITE if link.outbox else 0)
                    if want != link.events:
                        self._sel.modify(link.master, want, link)
                        link.events = want
                wait = 0.5
                if self._timers:
                    wait = max(0.0, min(wait, self._timers[0][0] - time.monotonic()))
            events = self._sel.select(wait)
            with self._lock:
                for key, mask in events:
                    link = key.data
                    if link is None:
                        try:
                            os.read(self._wake_r, 4096)
                        except BlockingIOError:
                            pass
                        continue
                    if mask & selectors.EVENT_WRITE:
                        self._flush(link)
                    if mask & selectors.EVENT_READ:
                        try:
                            data = os.read(link.master, 4096)
                        except (BlockingIOError, OSError):
                            continue
                        if data and link.chip is not None:
                            link.chip.feed(data)
                now = time.monotonic()
                while self._timers and self._timers[0][0] <= now:
                    timer = heapq.heappop(self._timers)[2]
                    if not timer.cancelled:
                        timer.fn()
