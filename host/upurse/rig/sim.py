"""The emulated rig: the simulated PN532 field and three emulated boards running the firmware.

    terminal board ── reader PN532 "A" ─┐  air  ┌─ card PN532 "card-1" ── card board 1
                   └─ reader PN532 "B" ─┘       └─ card PN532 "card-2" ── card board 2

Each board is a `micropython` process on the unix board (boards/unix/board.py) behind its own
console pty (EmulatedBoard), booting the .mpy build of its role (upurse.build.cached, the files
`make flash-*` would copy); each PN532 is a pty of the Field. A card board's flash is a folder:
the issuer's `cards/NAME` for a registered card, or a blank card's folder in the rig's own
work folder. `arrange({"A": flash_a, "B": flash_b})` puts the cards wanted on each reader:
moving a card board between the two fields where it can, rebooting a board with another flash
(swapping the card) where it must.

    with SimRig(workdir) as rig:
        rig.arrange({"A": issuer / "cards/b", "B": issuer / "cards/a"})
        Terminal(rig.ports()["terminal"]).request("transfer", amount=100, date=20260705)
"""
from __future__ import annotations

import shutil
from pathlib import Path

from upurse.build import cached
from upurse.rig.emuboard import EmulatedBoard
from upurse.rig.field import Field

READERS = ("A", "B")
SLOTS = ("card-1", "card-2")
SAM_CONFIGURATION = b"\x14"  # UM0701-02 §7.2.10: the first command of a board's boot
TG_INIT_AS_TARGET = b"\x8c"  # §7.3.14: the card board arms its PN532
ARM_WAIT = 10.0  # seconds a rebooted card board may take to arm
CARD_HEAP = "128k"  # the applet and the PN532 driver: 96k runs the symmetric path, the
# public-key roll (seed Fig. 18) needs 128k (an RP2040 has ~190k; an ESP32 without PSRAM ~110k)
TERMINAL_HEAP = "192k"  # settlement, journal, CRL and the public-key roll, with the trace on


class SimRig:
    def __init__(self, workdir: Path, *, buffer: int = 262, card_heap: str | None = CARD_HEAP,
                 terminal_heap: str | None = TERMINAL_HEAP) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.field = Field(buffer=buffer)
        self.reader_ports = {r: self.field.add_reader(r) for r in READERS}
        self.card_ports = {s: self.field.add_card(s) for s in SLOTS}
        card_fw, terminal_fw = cached("card", "unix"), cached("terminal", "unix")
        logs = self.workdir / "logs"
        logs.mkdir(exist_ok=True)
        self.terminal = EmulatedBoard(
            "terminal", self.workdir / "terminal", firmware=terminal_fw, heap=terminal_heap,
            log=logs / "terminal.log",
            env={"UPURSE_PN532_A": self.reader_ports["A"], "UPURSE_PN532_B": self.reader_ports["B"],
                 "UPURSE_TERMINAL_STORE": str(self.workdir / "terminal" / "upurse-terminal")})
        self.cards: dict[str, EmulatedBoard] = {}
        self.stores: dict[str, Path] = {}
        for slot in SLOTS:
            store = self.workdir / slot / "upurse-card"  # a blank card until arranged otherwise
            self.stores[slot] = store
            self.cards[slot] = EmulatedBoard(slot, self.workdir / slot, firmware=card_fw,
                                             heap=card_heap, log=logs / f"{slot}.log",
                                             env=self._card_env(slot, store))
        self._started = False

    def _card_env(self, slot: str, store: Path) -> dict[str, str]:
        return {"UPURSE_LINK": "pn532", "UPURSE_PN532": self.card_ports[slot],
                "UPURSE_STORE": str(store)}

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> SimRig:
        self.field.start()
        self.terminal.start()
        for slot, reader in zip(SLOTS, READERS, strict=True):
            self.cards[slot].start()
            self.field.place(slot, reader)
        self._started = True
        return self

    def stop(self) -> None:
        for board in (self.terminal, *self.cards.values()):
            board.stop()
        self.field.stop()

    def __enter__(self) -> SimRig:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def ports(self) -> dict[str, str]:
        """Console ptys of the boards, then the PN532 ptys of the field."""
        out = {"terminal": self.terminal.port}
        out.update({slot: b.port for slot, b in self.cards.items()})
        out.update({f"pn532-{r}": p for r, p in self.reader_ports.items()})
        out.update({f"pn532-{s}": p for s, p in self.card_ports.items()})
        return out

    # -- cards in the field -------------------------------------------------------------------

    def placement(self) -> dict[str, dict]:
        """For each card board: the reader whose field it is in and the flash it runs."""
        return {slot: {"reader": self.field.where(slot), "store": str(self.stores[slot])}
                for slot in SLOTS}

    def arrange(self, wanted: dict[str, Path]) -> None:
        """Put the card whose flash is wanted[reader] on that reader, for each reader named."""
        wanted = {r: Path(s).resolve() for r, s in wanted.items()}
        if len(set(wanted.values())) != len(wanted):
            raise ValueError("one card cannot be on both readers")
        assign: dict[str, str] = {}
        for reader, store in wanted.items():
            for slot in SLOTS:
                if self.stores[slot].resolve() == store:
                    assign[reader] = slot
        for reader, store in wanted.items():
            if reader in assign:
                continue
            free = [s for s in SLOTS if s not in assign.values()]
            # prefer the board already on this reader, unless the other reader wants it kept
            free.sort(key=lambda s: self.field.where(s) != reader)
            slot = free[0]
            assign[reader] = slot
            self.load(slot, store)
        others = [s for s in SLOTS if s not in assign.values()]
        for reader in READERS:  # the readers nobody asked about get what is left
            if reader not in assign and others:
                assign[reader] = others.pop()
        for reader, slot in assign.items():
            if self.field.where(slot) != reader:
                self.field.place(slot, reader)

    def load(self, slot: str, store: Path) -> None:
        """Swap the card: reboot card board `slot` with the flash `store`, out of the field
        while it boots (a card is put down only once it is one)."""
        reader = self.field.where(slot)
        self.field.remove(slot)
        self.stores[slot] = Path(store)
        chip = self.field.chip(slot)
        mark: list[int] = []
        self.cards[slot].reboot(env=self._card_env(slot, Path(store)),
                                between=lambda: mark.append(len(chip.received)))
        # the dead process may have left the chip armed, or a last frame in the pty: wait
        # until the new one has brought the chip up (SAMConfiguration) and armed it after that
        self.field.wait(lambda: self._armed_since(chip, mark[0]), ARM_WAIT)
        if reader is not None:
            self.field.place(slot, reader)

    @staticmethod
    def _armed_since(chip, start: int) -> bool:
        frames = chip.received[start:]
        sam = next((i for i, d in enumerate(frames) if d[:1] == SAM_CONFIGURATION), None)
        return (sam is not None and chip.can_activate()
                and any(d[:1] == TG_INIT_AS_TARGET for d in frames[sam:]))

    def eject(self, store: Path) -> bool:
        """Take the card with flash `store` out of its board (a blank card goes in instead), so
        something else may use that flash; True if it was loaded."""
        store = Path(store).resolve()
        for slot in SLOTS:
            if self.stores[slot].resolve() == store:
                blank = self.workdir / slot / "upurse-card"
                if blank.resolve() == store:
                    return False
                self.load(slot, blank)
                return True
        return False

    def fresh_blank(self, slot: str) -> Path:
        """Wipe the rig's own blank card of `slot` (tests start from an unissued card)."""
        blank = self.workdir / slot / "upurse-card"
        loaded = self.stores[slot].resolve() == blank.resolve()
        shutil.rmtree(blank, ignore_errors=True)
        if loaded:
            self.load(slot, blank)
        return blank
