"""What the simulated field recorded, as the ISO/IEC 14443 frames a sniffer would have seen.

The field records events (an activation with the card's UID, command and response APDUs, a
release, a card carried away); `AirRecorder` turns each into frames on the air and hands them
to a pcapng writer (upurse.pcapng), one interface per reader:

- activation (ISO 14443-3 type A, then -4): REQA, ATQA, ANTICOLLISION, the UID and its BCC,
  SELECT, SAK, RATS, ATS;
- an APDU: I-blocks with alternating block numbers, chained when longer than the receiver's
  frame (the card's FSC from its ATS, the reader's FSD from its RATS), each part of a chain
  acknowledged by R(ACK);
- a release: S(DESELECT) and its answer;
- the field: on before a reader's first activation, off at the end.

Every frame that carries a CRC_A carries a correct one, so Wireshark decodes it as sent.
"""
from __future__ import annotations

from upurse.pcapng import (
    EVENT_FIELD_OFF,
    EVENT_FIELD_ON,
    EVENT_TO_CARD,
    EVENT_TO_CARD_NO_CRC,
    EVENT_TO_READER,
    EVENT_TO_READER_NO_CRC,
    PcapngWriter,
)
from upurse.rig.chip import ATS_PREFIX, RATS
from upurse.rig.picc import FS_TABLE, bcc, crc_a

REQA = b"\x26"
ATQA = b"\x04\x00"  # SENS_RES 0004h, least significant byte first on the air
ANTICOLLISION_CL1 = b"\x93\x20"
SELECT_CL1 = b"\x93\x70"
SAK_ISO_DEP = b"\x20"
ATS = bytes([1 + len(ATS_PREFIX)]) + ATS_PREFIX  # what a PN532 card composes (no history)
I_BLOCK, CHAINING, R_ACK, S_DESELECT = 0x02, 0x10, 0xA2, 0xC2
FRAME_OVERHEAD = 3  # PCB and CRC_A around the information field
STEP = 1e-6  # frames of one event are a microsecond apart, so they sort as sent


class _ReaderState:
    def __init__(self) -> None:
        self.field_on = False
        self.block = 0  # the reader's block number; the card answers with the same one
        self.fsc = FS_TABLE[ATS[1] & 0x0F]  # card's frame size (ATS T0's FSCI)
        self.fsd = FS_TABLE[RATS[1] >> 4]  # reader's frame size (RATS FSDI)


class AirRecorder:
    """Field events in, pcapng packets out: `record(time, reader, card, direction, data)`."""

    def __init__(self, writer: PcapngWriter, epoch: float) -> None:
        self.writer = writer
        self.epoch = epoch  # wall-clock time of the field's time 0
        self.readers = {name: _ReaderState() for name in writer.ids}
        self._last = 0.0

    def _frame(self, reader: str, t: float, event: int, frame: bytes = b"",
               crc: bool = True) -> None:
        self._last = max(self.epoch + t, self._last + STEP)
        if crc and event in (EVENT_TO_CARD, EVENT_TO_READER):
            frame += crc_a(frame)
        self.writer.packet(reader, self._last, event, frame)

    def record(self, t: float, reader: str, card: str, direction: str, data: bytes) -> None:
        s = self.readers[reader]
        if direction == "activate":
            self.activate(s, reader, t, data)
        elif direction == "cmd":
            self.blocks(s, reader, t, data, EVENT_TO_CARD, s.fsc)
        elif direction == "rsp":
            self.blocks(s, reader, t, data, EVENT_TO_READER, s.fsd)
        elif direction == "release":
            self._frame(reader, t, EVENT_TO_CARD, bytes([S_DESELECT]))
            self._frame(reader, t, EVENT_TO_READER, bytes([S_DESELECT]))
        # "remove": the card is gone; nothing crosses the air

    def activate(self, s: _ReaderState, reader: str, t: float, uid: bytes) -> None:
        if not s.field_on:
            self._frame(reader, t, EVENT_FIELD_ON)
            s.field_on = True
        uid_bcc = uid + bytes([bcc(uid)])
        self._frame(reader, t, EVENT_TO_CARD_NO_CRC, REQA)
        self._frame(reader, t, EVENT_TO_READER_NO_CRC, ATQA)
        self._frame(reader, t, EVENT_TO_CARD_NO_CRC, ANTICOLLISION_CL1)
        self._frame(reader, t, EVENT_TO_READER_NO_CRC, uid_bcc)
        self._frame(reader, t, EVENT_TO_CARD, SELECT_CL1 + uid_bcc)
        self._frame(reader, t, EVENT_TO_READER, SAK_ISO_DEP)
        self._frame(reader, t, EVENT_TO_CARD, RATS)
        self._frame(reader, t, EVENT_TO_READER, ATS)
        s.block = 0  # ISO 14443-4 7.5.3.1: block numbers start at 0 after activation

    def blocks(self, s: _ReaderState, reader: str, t: float, apdu: bytes, event: int,
               frame_size: int) -> None:
        """One APDU as I-blocks, chained when longer than the receiver's frame. A command's
        parts but the last are each answered by R(ACK); a response's parts after the first
        are each asked for by R(ACK). Both sides toggle the block number per block pair."""
        room = frame_size - FRAME_OVERHEAD
        parts = [apdu[at:at + room] for at in range(0, max(len(apdu), 1), room)]
        command = event == EVENT_TO_CARD
        other = EVENT_TO_READER if command else EVENT_TO_CARD
        for i, part in enumerate(parts):
            more = i < len(parts) - 1
            if not command and i:
                self._frame(reader, t, other, bytes([R_ACK | s.block]))
            self._frame(reader, t, event, bytes([I_BLOCK | s.block | CHAINING * more]) + part)
            if command and more:
                self._frame(reader, t, other, bytes([R_ACK | s.block]))
            if more or not command:  # the last command part is answered by the response
                s.block ^= 1

    def close(self) -> None:
        for name, s in self.readers.items():
            if s.field_on:
                self._frame(name, self._last - self.epoch, EVENT_FIELD_OFF)
                s.field_on = False
        self.writer.close()


def write_pcapng(path, trace: list, epoch: float, readers: tuple[str, ...] = ("A", "B")) -> None:
    """The field's trace rows ([time, reader, card, direction, hex data], as the rig reports
    them) as a pcapng file."""
    recorder = AirRecorder(PcapngWriter(open(path, "wb"), list(readers)), epoch)  # noqa: SIM115
    for t, reader, card, direction, data in trace:
        recorder.record(t, reader, card, direction, bytes.fromhex(data))
    recorder.close()


def record_live(field, path) -> AirRecorder:
    """Write the field's events to a pcapng file as they happen (the rig daemon's --pcap);
    close() the recorder when the field stops."""
    recorder = AirRecorder(PcapngWriter(open(path, "wb"), list(field.readers)),  # noqa: SIM115
                           field.epoch)
    field.on_exchange = lambda e: recorder.record(e.time, e.reader, e.card, e.direction, e.data)
    return recorder
