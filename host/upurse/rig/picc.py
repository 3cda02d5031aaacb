"""A card as raw ISO/IEC 14443 frames reach it: what a host stack driving a reader PN532
through InCommunicateThru talks to (type A layer 3, then ISO-DEP, ISO/IEC 14443-4).

The reader chip hands each frame as it goes on the air (with its CRC_A where the frame has
one) to `Picc.frame`, which answers with the card's frame, None (no answer: the reader times
out) or PENDING (a command APDU went to the card; its response comes through `response`).
The card behind it is any `chip.Card`: an emulated card PN532 whose host answers APDUs, or
a stub; the Picc does for it what the card PN532 in ISO 14443-4 PICC mode does itself.

Modelled: REQA/WUPA, ANTICOLLISION and SELECT of cascade level 1 (4-byte UIDs, which is
what a PN532 emulates), HLTA and the HALT state (only WUPA wakes a halted card), RATS and
the ATS, I-blocks with the PICC's block number rules (ISO/IEC 14443-4 7.5.4: rules D, E,
11-13), chaining both ways (the card's blocks sized to the FSD the RATS announced), R(ACK),
R(NAK), S(DESELECT), and S(WTX) when the card's answer is later than its frame waiting time.
Not modelled: bit-oriented anticollision (NVB other than 20h), more than one card answering,
PPS, NAD (skipped), wrong parity.
"""
from __future__ import annotations

REQA, WUPA, HLTA = 0x26, 0x52, 0x50
SEL_CL1, NVB_ALL, NVB_SELECT = 0x93, 0x20, 0x70
RATS_CMD = 0xE0
PENDING = object()  # Picc.frame's answer when the card's response APDU comes later
WTX_REQUEST = bytes([0xF2, 0x01])  # S(WTX) asking for one more frame waiting time
FWT_UNIT = 256 * 16 / 13.56e6  # seconds, times 2**FWI (ISO/IEC 14443-4 7.2)
FS_TABLE = (16, 24, 32, 40, 48, 64, 96, 128, 256)  # FSCI/FSDI to bytes (ISO 14443-4 5.2.3)


def crc_a(data: bytes) -> bytes:
    """ISO/IEC 14443-3 Annex B CRC_A (initial 6363h), least significant byte first."""
    crc = 0x6363
    for byte in data:
        byte ^= crc & 0xFF
        byte ^= (byte << 4) & 0xFF
        crc = (crc >> 8) ^ (byte << 8) ^ (byte << 3) ^ (byte >> 4)
    return bytes([crc & 0xFF, crc >> 8])


def bcc(uid: bytes) -> int:
    out = 0
    for b in uid:
        out ^= b
    return out


class Bare(bytes):
    """A card frame sent without CRC_A (ATQA, the UID and its BCC)."""


def with_crc(data: bytes) -> bytes:
    return data + crc_a(data)


def crc_ok(frame: bytes) -> bool:
    return len(frame) >= 3 and crc_a(frame[:-2]) == frame[-2:]


def fwt_seconds(ats: bytes) -> float:
    """The frame waiting time the ATS grants (TB(1) upper nibble, FWI; default 4)."""
    fwi = 4
    if len(ats) > 1 and ats[1] & 0x20:
        tb = 2 + bool(ats[1] & 0x10)
        if len(ats) > tb:
            fwi = ats[tb] >> 4
    return FWT_UNIT * (1 << fwi)


class Picc:
    """One card in one reader's field, seen through raw frames."""

    def __init__(self, reader, card, info) -> None:
        self.reader, self.card, self.info = reader, card, info
        self.state = "idle"  # idle, ready, active, halt, protocol
        self.fsd = 256
        self.cid: int | None = None  # CID of the reader's last block, when it had one
        self.bn = 1  # the PICC's block number (rule C)
        self.last = b""  # the last block sent, for retransmission
        self.chain_in = bytearray()
        self.chain_out = b""  # rest of a response APDU still to send in blocks
        self.waiting = False  # a command APDU went to the card
        self.ready: bytes | None = None  # the card's response APDU, not sent yet

    # -- ISO/IEC 14443-3 ---------------------------------------------------------------------

    def frame(self, data: bytes, short: bool):
        """The card's answer to one frame from the reader (`short`: 7 bits, REQA/WUPA)."""
        if short:
            if data[:1] == bytes([WUPA]) or (data[:1] == bytes([REQA]) and self.state != "halt"):
                if self.state in ("idle", "halt", "ready"):
                    self.state = "ready"
                    return Bare(self.info.sens_res[::-1])  # ATQA, least significant byte first
            return None
        if self.state == "ready":
            return self.select(data)
        if self.state == "active":
            if data[:2] == bytes([HLTA, 0]) and crc_ok(data):
                self.state = "halt"
                return None
            if data[:1] == bytes([RATS_CMD]) and crc_ok(data) and self.info.ats:
                return self.rats(data)
            return None
        if self.state == "protocol" and crc_ok(data):
            return self.block(data[:-2])
        return None

    def select(self, data: bytes):
        uid = self.info.uid
        if data[:2] == bytes([SEL_CL1, NVB_ALL]):
            return Bare(uid + bytes([bcc(uid)]))
        if data[:2] == bytes([SEL_CL1, NVB_SELECT]) and crc_ok(data):
            if data[2:7] == uid + bytes([bcc(uid)]):
                self.state = "active"
                return with_crc(bytes([self.info.sel_res]))
            self.state = "idle"  # selected someone else
        return None

    def rats(self, data: bytes) -> bytes:
        self.protocol(data[1])
        self.reader.picc_activated(self, data[:-2])
        return with_crc(self.info.ats)

    def protocol(self, param: int) -> None:
        """ISO-DEP from here on, with the RATS parameter byte's FSDI and CID."""
        self.fsd = FS_TABLE[min(param >> 4, 8)]
        self.state = "protocol"
        self.bn = 1

    # -- ISO/IEC 14443-4 blocks --------------------------------------------------------------

    def block(self, blk: bytes):
        if not blk:
            return None
        pcb, at = blk[0], 1
        self.cid = None
        if pcb & 0x08:  # CID follows: the answer carries it too
            self.cid = blk[1] if len(blk) > 1 else 0
            at += 1
        if pcb & 0xC0 == 0x00 and pcb & 0x04:  # NAD follows (I-blocks only)
            at += 1
        inf = blk[at:]
        if pcb & 0xE2 == 0x02:  # I-block
            self.bn ^= 1  # rule D
            self.chain_in += inf
            if pcb & 0x10:  # more follows: acknowledge this part
                return self.send(0xA2 | self.bn)
            capdu, self.chain_in = bytes(self.chain_in), bytearray()
            self.waiting, self.ready = True, None
            self.reader.picc_command(self, capdu)
            return PENDING
        if pcb & 0xE6 == 0xA2:  # R-block
            nak = bool(pcb & 0x10)
            if pcb & 1 == self.bn:  # rule 11: the reader missed our last block
                return self.resend()
            if nak:  # rule 12
                return self.send(0xA2 | self.bn)
            self.bn ^= 1  # rule E; rule 13: the next part of our chain
            if self.chain_out:
                return self.send_part()
            return self.resend()
        if pcb & 0xF7 == 0xC2:  # S(DESELECT)
            self.state = "halt"
            self.reader.picc_released(self)
            return self.frame_out(bytes([pcb]))
        if pcb & 0xF7 == 0xF2 and self.waiting:  # S(WTX) response: the card works on
            if self.ready is not None:
                return self.answer(self.ready)
            return PENDING
        return None

    def response(self, rapdu: bytes) -> bytes:
        """The card's response APDU to the pending command: its first (or only) block."""
        self.ready = rapdu
        return self.answer(rapdu)

    def answer(self, rapdu: bytes) -> bytes:
        self.waiting, self.ready = False, None
        self.chain_out = rapdu
        return self.send_part()

    def wtx(self) -> bytes:
        """The frame waiting time ran out with no answer from the card: ask for more."""
        return self.frame_out(WTX_REQUEST[:1], WTX_REQUEST[1:])

    def send_part(self) -> bytes:
        room = self.fsd - 3 - (self.cid is not None)
        part, self.chain_out = self.chain_out[:room], self.chain_out[room:]
        return self.send(0x02 | self.bn | (0x10 if self.chain_out else 0), part)

    def send(self, pcb: int, inf: bytes = b"") -> bytes:
        self.last = self.frame_out(bytes([pcb]), inf)
        return self.last

    def frame_out(self, pcb: bytes, inf: bytes = b"") -> bytes:
        head = pcb
        if self.cid is not None:
            head = bytes([pcb[0] | 0x08, self.cid])
        return with_crc(head + inf)

    def resend(self):
        return self.last or None
