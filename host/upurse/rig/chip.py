"""One emulated PN532 (firmware V1.6) behind its HSU link: the commands a reader or a card
board sends, answered byte for byte as NXP UM0701-02 describes.

The chip only sees frames; what happens on the air (which card is in which reader's field) is
the Field's business, reached through `self.field`. All methods run under the field's lock.

Modelling choices where the manual is silent:
- a command frame whose LCS or DCS is wrong is dropped without an ACK (the host times out);
  a well-formed frame is ACKed, and an unknown command or malformed parameters then get the
  syntax error frame (§6.2.1.5);
- until SAMConfiguration (LowVbat mode after power-up, AN10609 C106) RF commands get the
  syntax error frame;
- asleep (after PowerDown, or waiting in TgInitAsTarget: AN10449 fig. 16) the first byte that
  arrives wakes the chip and is lost; if it was not 0x55 the whole write it came in is lost;
- a new command while one is still running aborts the running one, as an ACK would.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import TYPE_CHECKING, Protocol

from upurse.rig import hsu
from upurse.rig.picc import PENDING, Bare, Picc, fwt_seconds, with_crc

if TYPE_CHECKING:
    from upurse.rig.field import Field


class Cmd(IntEnum):
    """Command codes (UM0701-02 §7, Table 15)."""

    DIAGNOSE = 0x00
    GET_FIRMWARE_VERSION = 0x02
    GET_GENERAL_STATUS = 0x04
    READ_REGISTER = 0x06
    WRITE_REGISTER = 0x08
    READ_GPIO = 0x0C
    WRITE_GPIO = 0x0E
    SET_SERIAL_BAUD_RATE = 0x10
    SET_PARAMETERS = 0x12
    SAM_CONFIGURATION = 0x14
    POWER_DOWN = 0x16
    RF_CONFIGURATION = 0x32
    RF_REGULATION_TEST = 0x58
    IN_JUMP_FOR_DEP = 0x56
    IN_JUMP_FOR_PSL = 0x46
    IN_LIST_PASSIVE_TARGET = 0x4A
    IN_ATR = 0x50
    IN_PSL = 0x4E
    IN_DATA_EXCHANGE = 0x40
    IN_COMMUNICATE_THRU = 0x42
    IN_DESELECT = 0x44
    IN_RELEASE = 0x52
    IN_SELECT = 0x54
    IN_AUTO_POLL = 0x60
    TG_INIT_AS_TARGET = 0x8C
    TG_SET_GENERAL_BYTES = 0x92
    TG_GET_DATA = 0x86
    TG_SET_DATA = 0x8E
    TG_SET_META_DATA = 0x94
    TG_GET_INITIATOR_COMMAND = 0x88
    TG_RESPONSE_TO_INITIATOR = 0x90
    TG_GET_TARGET_STATUS = 0x8A


class Status(IntEnum):
    """Status byte error codes (§7.1, Table 14) that the simulator reports."""

    OK = 0x00
    TIMEOUT = 0x01
    INVALID_PARAMETER = 0x10
    INVALID_STATE = 0x25
    NOT_ACCEPTABLE = 0x27
    RELEASED = 0x29
    CARD_GONE = 0x2B


MI = 0x40  # More Information bit, in Tg and in status bytes
FIRMWARE = bytes([0x32, 0x01, 0x06, 0x07])  # IC PN532, V1.6, ISO14443A + B + 18092 (§7.2.2)
PARAM_AUTO_RATS = 0x10  # SetParameters flags (§7.2.9)
PARAM_PICC = 0x20  # fISO14443-4_PICC: the chip runs the ISO-DEP card side itself
ATS_PREFIX = bytes([0x75, 0x33, 0x92, 0x03])  # T0 TA TB TC of the ATS a PN532 PICC sends
RATS = bytes([0xE0, 0x80])  # the reader PN532's RATS: FSDI 8 (256 bytes), CID 0
TRY_SECONDS = 0.002  # one passive activation attempt without a card
ARM_SECONDS = 0.040  # release to a re-armed card answering a field (docs/rig.md: re-arming)
POLL_PERIOD = 0.150  # InAutoPoll's Period unit (§7.3.13)
POLL_MIFARE, POLL_ISO_DEP_A = 0x10, 0x20  # InAutoPoll types: 106 kbps type A without, with RATS
POLL_106A = {0x00, POLL_MIFARE, POLL_ISO_DEP_A, 0x40}  # types a 106 kbps type A card answers
SAM_FREE = {
    Cmd.DIAGNOSE, Cmd.GET_FIRMWARE_VERSION, Cmd.GET_GENERAL_STATUS, Cmd.READ_REGISTER,
    Cmd.WRITE_REGISTER, Cmd.READ_GPIO, Cmd.WRITE_GPIO, Cmd.SET_SERIAL_BAUD_RATE,
    Cmd.SET_PARAMETERS, Cmd.SAM_CONFIGURATION, Cmd.POWER_DOWN, Cmd.RF_CONFIGURATION,
}
RF_ITEM_SIZES = {0x01: 1, 0x02: 3, 0x04: 1, 0x05: 3, 0x0A: 11, 0x0B: 8, 0x0C: 3, 0x0D: 9}
REGISTER_DEFAULTS = {0x6302: 0x80, 0x6303: 0x80, 0x6305: 0x40, 0x633C: 0x10}
TX_MODE, RX_MODE, BIT_FRAMING = 0x6302, 0x6303, 0x633D  # CIU registers InCommunicateThru uses
CRC_EN = 0x80  # TxCRCEn / RxCRCEn in CIU_TxMode / CIU_RxMode


class Reader(Protocol):
    name: str

    def rf_response(self, card: Card, rapdu: bytes) -> None: ...
    def rf_frame_response(self, card: Card, frame: bytes) -> None: ...
    def rf_card_lost(self, card: Card) -> None: ...
    def rf_card_armed(self, card: Card) -> None: ...


class Card(Protocol):
    name: str

    def can_activate(self) -> bool: ...
    def activation(self) -> Activation: ...
    def rf_activate(self, reader: Reader, rats: bytes) -> None: ...
    def rf_receive(self, reader: Reader, capdu: bytes) -> None: ...
    def rf_release(self) -> None: ...
    def rf_frame(self, reader: Reader, frame: bytes) -> None: ...


@dataclass(frozen=True)
class Activation:
    """What a reader learns about a card in InListPassiveTarget (§7.3.5, 106 kbps type A)."""

    sens_res: bytes  # ATQA as the reader reports it, MSB first
    sel_res: int  # SAK
    uid: bytes  # NFCID1
    ats: bytes  # TL T0 TA TB TC Tk..; empty when the card is not ISO-DEP

    def target_data(self, tg: int, rats: bool) -> bytes:
        data = bytes([tg]) + self.sens_res + bytes([self.sel_res, len(self.uid)]) + self.uid
        return data + self.ats if rats and self.ats else data


@dataclass
class TargetConfig:
    """TgInitAsTarget parameters (§7.3.14) kept while armed."""

    mode: int
    sens_res: bytes  # LSB first, as given
    nfcid1t: bytes
    sel_res: int
    historical: bytes
    picc: bool  # fISO14443-4_PICC was set: the chip answers RATS and runs ISO-DEP


class SimPn532:
    """An emulated PN532; `send` writes to its host link."""

    def __init__(self, name: str, field: Field, send, buffer: int = 262) -> None:
        self.name = name
        self.field = field
        self.send = send
        self.buffer = buffer  # most data bytes moved in one InDataExchange / TgGetData answer
        self.frames = hsu.FrameReader()
        self.received: list[bytes] = []  # every command frame's PD0..PDn, for tests
        self.sent: list[bytes] = []  # every response's PD0..PDn (error frames as b"")
        self.last_response = b""
        self.pending: Cmd | None = None  # command waiting for the air
        self.timer = None
        self.asleep = False
        self.sam_done = False  # LowVbat until SAMConfiguration
        self.params = 0x14  # fAutomaticATR_RES | fAutomaticRATS, the power-up value
        self.registers: dict[int, int] = dict(REGISTER_DEFAULTS)
        self.rf_on = False
        self.passive_retries = 0xFF
        self.listing: tuple[int, int, bytes] = (1, 0, b"")  # MaxTg, BrTy, InitiatorData
        self.tg_now = 1  # the target the fields below describe
        self.parked: dict[int, tuple] = {}  # the other listed target's fields (MaxTg 2)
        self.poll_types = b""  # InAutoPoll's target types, while it polls
        # reader side
        self.target: Card | None = None
        self.target_info: Activation | None = None
        self.target_state = ""  # "active", "deselected", "gone"
        self.target_rats = False  # the target was sent RATS: ISO-DEP runs over it
        self.chain_in = bytearray()  # command APDU chained by the host (MI in Tg)
        self.chain_out = b""  # rest of a response APDU longer than the buffer
        self.waiting_for: Card | None = None  # card that owes us a response APDU
        self.piccs: dict[str, Picc] = {}  # cards in our field as raw frames see them
        self.awaiting_ats: Cmd | None = None  # our RATS went to a card host: its ATS is due
        self.pcd_bn = 0  # our block number towards a card whose host answers the frames
        self.chain_rsp = bytearray()  # response I-blocks chained by such a card
        self.raw: Picc | None = None  # the card InCommunicateThru frames go to
        # card side
        self.tg: TargetConfig | None = None
        self.tg_reader: Reader | None = None  # reader that activated us
        self.tg_state = 0  # TgGetTargetStatus: 0 free, 1 activated, 2 deselected
        self.tg_released = False  # released since the last TgInitAsTarget: TgGetData -> 0x29
        self.tg_inbox: list[bytes] = []  # command APDUs not fetched yet
        self.tg_rest = b""  # rest of a command APDU longer than the buffer
        self.tg_out = bytearray()  # response APDU chained by TgSetMetaData
        self.tg_owes = False  # a command APDU was handed to the host, its response is due
        self.tg_listening = False  # armed and answering a reader's field
        self.tg_released_at = -ARM_SECONDS  # when a reader last let us go

    # -- host link ---------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        if self.asleep:
            self.asleep = False
            if data[0] != 0x55:  # woken by a frame byte: the frame is lost with it
                return
            data = data[1:]
        for frame in self.frames.feed(data):
            if frame.kind is hsu.Kind.BAD:
                continue
            if frame.kind is hsu.Kind.ACK:
                self.abort()
            elif frame.kind is hsu.Kind.NACK:
                if self.last_response:
                    self.send(self.last_response)
            else:
                self.received.append(frame.data)
                self.send(hsu.ACK)
                self.command(frame.tfi, frame.data)

    def respond(self, cmd: int, data: bytes = b"") -> None:
        self.pending = None
        self.cancel_timer()
        self.last_response = hsu.response(cmd, data)
        self.sent.append(bytes([cmd + 1]) + data)
        self.send(self.last_response)

    def syntax_error(self) -> None:
        self.pending = None
        self.last_response = hsu.ERROR
        self.sent.append(b"")
        self.send(hsu.ERROR)

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def abort(self) -> None:
        """An ACK from the host (§6.2.1.3): drop the running command, say nothing."""
        if self.pending is Cmd.TG_INIT_AS_TARGET:
            self.tg = None
        elif self.pending is Cmd.IN_DATA_EXCHANGE:
            self.waiting_for = None
        self.pending = None
        self.cancel_timer()

    def command(self, tfi: int, data: bytes) -> None:
        if self.pending is not None:
            self.abort()
        if tfi != hsu.TFI_HOST or not data:
            return self.syntax_error()
        try:
            cmd = Cmd(data[0])
        except ValueError:
            return self.syntax_error()
        if not self.sam_done and cmd not in SAM_FREE:
            return self.syntax_error()
        handler = getattr(self, "do_" + cmd.name.lower())
        try:
            handler(data[1:])
        except IndexError:  # parameters too short for the command
            self.syntax_error()

    # -- miscellaneous commands (§7.2) --------------------------------------------------------

    def do_diagnose(self, p: bytes) -> None:
        if p[0] == 0x00:  # communication line test: echo NumTst and InParam
            return self.respond(Cmd.DIAGNOSE, p)
        if p[0] == 0x06:  # card presence: is the activated target still there?
            if self.target is None:
                return self.respond(Cmd.DIAGNOSE, bytes([Status.NOT_ACCEPTABLE]))
            gone = self.target_state == "gone"
            return self.respond(Cmd.DIAGNOSE, bytes([Status.TIMEOUT if gone else Status.OK]))
        self.respond(Cmd.DIAGNOSE, b"\x00")

    def do_get_firmware_version(self, p: bytes) -> None:
        self.respond(Cmd.GET_FIRMWARE_VERSION, FIRMWARE)

    def do_get_general_status(self, p: bytes) -> None:
        targets = b"\x01\x01\x00\x00\x00" if self.target_state == "active" else b"\x00"
        self.respond(Cmd.GET_GENERAL_STATUS, bytes([0x00, int(self.rf_on)]) + targets + b"\x00")

    def do_read_register(self, p: bytes) -> None:
        if not p or len(p) % 2:
            return self.syntax_error()
        addresses = [p[i] << 8 | p[i + 1] for i in range(0, len(p), 2)]
        self.respond(Cmd.READ_REGISTER, bytes(self.registers.get(a, 0) for a in addresses))

    def do_write_register(self, p: bytes) -> None:
        if not p or len(p) % 3:
            return self.syntax_error()
        for i in range(0, len(p), 3):
            self.registers[p[i] << 8 | p[i + 1]] = p[i + 2]
        self.respond(Cmd.WRITE_REGISTER)

    def do_read_gpio(self, p: bytes) -> None:
        self.respond(Cmd.READ_GPIO, bytes([0x3F, 0x06, 0x00]))  # P3, P7, I0I1

    def do_write_gpio(self, p: bytes) -> None:
        self.respond(Cmd.WRITE_GPIO)

    def do_set_serial_baud_rate(self, p: bytes) -> None:
        if p[0] > 8:
            return self.syntax_error()
        self.respond(Cmd.SET_SERIAL_BAUD_RATE)  # a pty has no baud rate

    def do_set_parameters(self, p: bytes) -> None:
        self.params = p[0]
        self.respond(Cmd.SET_PARAMETERS)

    def do_sam_configuration(self, p: bytes) -> None:
        if not 1 <= p[0] <= 4:
            return self.syntax_error()
        self.sam_done = True
        self.respond(Cmd.SAM_CONFIGURATION)

    def do_power_down(self, p: bytes) -> None:
        _ = p[0]  # WakeUpEnable
        self.drop_target()
        self.respond(Cmd.POWER_DOWN, b"\x00")
        self.asleep = True

    def do_rf_configuration(self, p: bytes) -> None:
        size = RF_ITEM_SIZES.get(p[0])
        if size is None or len(p) != 1 + size:
            return self.syntax_error()
        if p[0] == 0x01:
            self.rf_on = bool(p[1] & 0x01)
            if not self.rf_on:
                self.drop_target()
                self.piccs.clear()
                self.raw = None
        elif p[0] == 0x05:
            self.passive_retries = p[3]
        self.respond(Cmd.RF_CONFIGURATION)

    def do_rf_regulation_test(self, p: bytes) -> None:
        _ = p[0]  # the chip transmits until the next command and never answers

    # -- initiator commands (§7.3) ------------------------------------------------------------

    def drop_target(self) -> None:
        self.drop_one()
        while self.parked:
            tg, fields = self.parked.popitem()
            self.load_target(fields)
            self.drop_one()
        self.tg_now = 1

    def drop_one(self) -> None:
        card, state = self.target, self.target_state
        self.target, self.target_info, self.target_state = None, None, ""
        self.target_rats = False
        self.chain_in.clear()
        self.chain_out = b""
        self.waiting_for = None
        if card is not None and state == "active":  # deselected or gone: released already
            self.field.record(self.name, card.name, "release", b"")
            self.halt(card)
            card.rf_release()

    def halt(self, card: Card) -> None:
        picc = self.piccs.get(card.name)
        if picc is not None:
            picc.state = "halt"

    def do_in_list_passive_target(self, p: bytes) -> None:
        max_tg, brty, initiator = p[0], p[1], bytes(p[2:])
        if not 1 <= max_tg <= 2 or brty > 4:
            return self.syntax_error()
        self.drop_target()
        self.rf_on = True
        self.pending = Cmd.IN_LIST_PASSIVE_TARGET
        self.listing = (max_tg, brty, initiator)
        if brty == 0 and self.try_activate():
            return
        if self.passive_retries != 0xFF:  # 0xFF: poll until a card comes or the host aborts
            tries = self.passive_retries + 1
            self.timer = self.field.call_later(tries * TRY_SECONDS, self.list_none)

    def list_none(self) -> None:
        if self.pending is Cmd.IN_LIST_PASSIVE_TARGET:
            self.respond(Cmd.IN_LIST_PASSIVE_TARGET, b"\x00")

    def try_activate(self) -> bool:
        """Activate an armed card in our field for the pending InListPassiveTarget or
        InAutoPoll."""
        if self.pending is Cmd.IN_LIST_PASSIVE_TARGET:
            max_tg, brty, initiator = self.listing
            found = self.find_card(initiator) if brty == 0 else None
            if found is None:
                return False
            rats = bool(self.params & PARAM_AUTO_RATS)
            if self.activate(*found, rats):
                return True
            data = found[1].target_data(1, rats)
            second = self.find_card(initiator) if max_tg == 2 else None
            if second is not None and not self.second_target(*second, rats):
                data += second[1].target_data(2, rats)
            self.respond(Cmd.IN_LIST_PASSIVE_TARGET, bytes([1 + bool(self.parked)]) + data)
            return True
        if self.pending is Cmd.IN_AUTO_POLL:
            found = self.find_card(b"")
            if found is None:
                return False
            card, info = found
            for kind in self.poll_types:
                if kind in POLL_106A:
                    rats = kind != POLL_MIFARE and bool(info.ats)
                    rats = kind != POLL_MIFARE and bool(info.sel_res & 0x20)
                    reported = POLL_ISO_DEP_A if rats else POLL_MIFARE
                    if self.activate(card, info, rats):
                        return True
                    data = info.target_data(1, rats)
                    self.respond(Cmd.IN_AUTO_POLL, bytes([1, reported, len(data)]) + data)
                    return True
        return False

    def second_target(self, card: Card, info: Activation, rats: bool) -> bool:
        """Activate a second card as Tg 2 (its RATS with CID 1) and park it; True if it would
        need its host's ATS, which is not modelled for a second target (it is not listed)."""
        if rats and not info.ats and info.sel_res & 0x20:
            return True
        first = self.target_fields()
        self.target, self.target_info, self.target_state = card, info, "active"
        self.target_rats = rats and bool(info.ats)
        self.field.record(self.name, card.name, "activate", info.uid)
        picc = self.piccs[card.name] = Picc(self, card, info)
        picc.state = "active"
        if self.target_rats:
            picc.protocol(RATS[1])
        card.rf_activate(self, RATS[:1] + bytes([RATS[1] | 1]) if self.target_rats else b"")
        self.parked[2] = self.target_fields()
        self.load_target(first)
        return False

    def target_fields(self) -> tuple:
        return (self.target, self.target_info, self.target_state, self.target_rats, self.pcd_bn)

    def load_target(self, fields: tuple) -> None:
        (self.target, self.target_info, self.target_state, self.target_rats,
         self.pcd_bn) = fields

    def use_target(self, tg: int) -> bool:
        """Make listed target `tg` the one the commands act on (§7.3.12 InSelect)."""
        if tg == self.tg_now:
            return self.target is not None
        if tg not in self.parked:
            return False
        if self.target is not None:
            self.parked[self.tg_now] = self.target_fields()
        self.load_target(self.parked.pop(tg))
        self.tg_now = tg
        self.chain_in.clear()
        self.chain_out = b""
        return True

    def find_card(self, initiator: bytes) -> tuple[Card, Activation] | None:
        for card in self.field.cards_in(self):
            if not card.can_activate() or card is self.target:
                continue
            info = card.activation()
            if initiator and strip_cascade(initiator) != info.uid:
                continue
            return card, info
        return None

    def activate(self, card: Card, info: Activation, rats: bool) -> bool:
        """Select `card`, with our RATS if `rats`; True if the ATS must come from the card's
        host first (the pending command answers once it does)."""
        self.target, self.target_info, self.target_state = card, info, "active"
        self.target_rats = rats and bool(info.ats)
        self.pcd_bn = 0
        self.chain_rsp.clear()
        host_ats = rats and not info.ats and bool(info.sel_res & 0x20)
        self.awaiting_ats = self.pending if host_ats else None
        self.field.record(self.name, card.name, "activate", info.uid)
        picc = self.raw = self.piccs[card.name] = Picc(self, card, info)
        picc.state = "active"
        if self.target_rats:
            picc.protocol(RATS[1])
        card.rf_activate(self, RATS if self.target_rats or host_ats else b"")
        return host_ats

    def rf_frame_response(self, card: Card, frame: bytes) -> None:
        """A frame the card's host answered with TgResponseToInitiator."""
        if card is not self.target or self.target_info is None:
            return
        if self.awaiting_ats is not None and self.pending is self.awaiting_ats:
            info = replace(self.target_info, ats=frame)
            self.target_info, self.target_rats, self.awaiting_ats = info, True, None
            data = info.target_data(1, True)
            if self.pending is Cmd.IN_AUTO_POLL:
                data = bytes([1, POLL_ISO_DEP_A, len(data)]) + data
            else:
                data = b"\x01" + data
            return self.respond(self.pending, data)
        if self.pending is not Cmd.IN_DATA_EXCHANGE or self.waiting_for is not card or not frame:
            return
        pcb = frame[0]
        if pcb & 0xF7 == 0xF2:  # S(WTX): the chip grants the time
            return card.rf_frame(self, frame)
        if pcb & 0xE2 != 0x02:
            return
        self.pcd_bn ^= 1
        self.chain_rsp += frame[1:]
        if pcb & 0x10:  # chained: fetch the next part
            return card.rf_frame(self, bytes([0xA2 | self.pcd_bn]))
        rapdu, self.chain_rsp = bytes(self.chain_rsp), bytearray()
        self.rf_response(card, rapdu)

    def rf_card_armed(self, card: Card) -> None:
        self.try_activate()

    def do_in_data_exchange(self, p: bytes) -> None:
        tg, data = p[0], bytes(p[1:])
        ok = self.use_target(tg & 0x3F)
        card = self.target
        if not ok or card is None or self.target_state == "deselected":
            return self.respond(Cmd.IN_DATA_EXCHANGE, bytes([Status.NOT_ACCEPTABLE]))
        if self.target_state == "gone" or not self.iso_dep():
            return self.respond(Cmd.IN_DATA_EXCHANGE, bytes([Status.TIMEOUT]))
        if self.chain_out and not data and not tg & MI:  # §7.3.8: fetch the rest (status MI)
            return self.send_part(Cmd.IN_DATA_EXCHANGE, self.chain_out)
        self.chain_out = b""
        self.chain_in += data
        if tg & MI:  # more command follows; the chip forwards it as chained I-blocks
            return self.respond(Cmd.IN_DATA_EXCHANGE, bytes([Status.OK]))
        capdu, self.chain_in = bytes(self.chain_in), bytearray()
        self.pending = Cmd.IN_DATA_EXCHANGE
        self.waiting_for = card
        self.field.record(self.name, card.name, "cmd", capdu)
        picc = self.piccs.get(card.name)
        if picc is not None:
            picc.bn ^= 1  # one I-block as far as the card's block number goes
        if self.target is not card or self.target_state != "active":  # the trace hook may cut
            return
        if self.host_answered():
            card.rf_frame(self, bytes([0x02 | self.pcd_bn]) + capdu)
        else:
            card.rf_receive(self, capdu)

    def host_answered(self) -> bool:
        """The target's ATS came from its host: the host runs ISO-DEP, we send it frames."""
        card = self.target
        return isinstance(card, SimPn532) and card.tg is not None and not card.tg_picc()

    def iso_dep(self) -> bool:
        return self.target_rats

    def send_part(self, cmd: Cmd, data: bytes) -> None:
        """Answer with at most `buffer` bytes; MI in the status byte if more wait."""
        part, rest = data[: self.buffer], data[self.buffer :]
        if cmd is Cmd.IN_DATA_EXCHANGE:
            self.chain_out = rest
        else:
            self.tg_rest = rest
        self.respond(cmd, bytes([MI if rest else Status.OK]) + part)

    def rf_response(self, card: Card, rapdu: bytes) -> None:
        if self.pending is Cmd.IN_DATA_EXCHANGE and self.waiting_for is card:
            self.waiting_for = None
            self.field.record(self.name, card.name, "rsp", rapdu)
            self.send_part(Cmd.IN_DATA_EXCHANGE, rapdu)
            return
        picc = self.piccs.get(card.name)
        if picc is None or not picc.waiting:
            return
        self.field.record(self.name, card.name, "rsp", rapdu)
        if self.pending is Cmd.IN_COMMUNICATE_THRU and self.raw is picc:
            self.thru_answer(picc.response(rapdu))
        else:  # the host has not answered our S(WTX) yet: the response waits for it
            picc.ready = rapdu

    def rf_card_lost(self, card: Card) -> None:
        """The card left the field: what is running fails as the RF timeout would."""
        for tg, fields in self.parked.items():
            if fields[0] is card:
                self.parked[tg] = (*fields[:2], "gone", *fields[3:])
        if self.target is not card:
            return
        self.target_state = "gone"
        self.chain_in.clear()
        self.chain_out = b""
        if self.pending is Cmd.IN_DATA_EXCHANGE:
            self.waiting_for = None
            self.respond(Cmd.IN_DATA_EXCHANGE, bytes([Status.TIMEOUT]))

    def rf_card_left(self, card: Card) -> None:
        """Whatever the host was doing with the card, the card is not there any more."""
        self.rf_card_lost(card)
        picc = self.piccs.pop(card.name, None)
        if picc is not None and picc is self.raw:
            self.raw = None
            if self.pending is Cmd.IN_COMMUNICATE_THRU:
                self.respond(Cmd.IN_COMMUNICATE_THRU, bytes([Status.TIMEOUT]))

    def do_in_deselect(self, p: bytes) -> None:
        for tg in [p[0]] if p[0] else [*self.parked, self.tg_now]:
            if self.use_target(tg) and self.target_state == "active":
                assert self.target is not None
                self.field.record(self.name, self.target.name, "release", b"")
                self.halt(self.target)
                self.target.rf_release()  # S(DESELECT)
                self.target_state = "deselected"
        self.respond(Cmd.IN_DESELECT, b"\x00")

    def do_in_release(self, p: bytes) -> None:
        if p[0] == 0:
            self.drop_target()
        elif self.use_target(p[0]):
            self.drop_one()
        self.respond(Cmd.IN_RELEASE, b"\x00")

    def do_in_select(self, p: bytes) -> None:
        ok = self.use_target(p[0]) and self.target_state == "active"
        self.respond(Cmd.IN_SELECT, bytes([Status.OK if ok else Status.NOT_ACCEPTABLE]))

    def do_in_communicate_thru(self, p: bytes) -> None:
        """Send one frame as given (§7.3.9): 7 bits when CIU_BitFraming says so, a CRC_A
        added when CIU_TxMode's TxCRCEn is set; the card's frame back, its CRC_A checked and
        taken off when CIU_RxMode's RxCRCEn is set."""
        if not p:
            return self.syntax_error()
        self.rf_on = True
        data = bytes(p)
        short = self.registers.get(BIT_FRAMING, 0) & 0x07 == 7 and len(data) == 1
        if not short and self.registers.get(TX_MODE, 0) & CRC_EN:
            data = with_crc(data)
        self.pending = Cmd.IN_COMMUNICATE_THRU
        if short:
            for card in self.field.cards_in(self):
                picc = self.piccs.get(card.name)
                if picc is None or picc.state in ("idle", "halt"):
                    if not card.can_activate():
                        continue
                    picc = self.piccs.setdefault(card.name, Picc(self, card, card.activation()))
                    picc.info = card.activation()
                answer = picc.frame(data, short)
                if answer is not None:
                    self.raw = picc
                    return self.thru_answer(answer)
            return self.thru_answer(None)
        if self.raw is None:
            return self.thru_answer(None)
        self.thru_answer(self.raw.frame(data, short))

    def thru_answer(self, answer) -> None:
        if answer is PENDING:
            picc = self.raw
            assert picc is not None
            fwt = fwt_seconds(picc.info.ats)
            self.timer = self.field.call_later(fwt, lambda: self.thru_wtx(picc))
            return
        if answer is None:
            return self.respond(Cmd.IN_COMMUNICATE_THRU, bytes([Status.TIMEOUT]))
        if self.registers.get(RX_MODE, 0) & CRC_EN and not isinstance(answer, Bare):
            answer = answer[:-2]
        self.respond(Cmd.IN_COMMUNICATE_THRU, bytes([Status.OK]) + answer)

    def thru_wtx(self, picc: Picc) -> None:
        """The card's frame waiting time ran out: it asks for more time (S(WTX))."""
        if self.pending is Cmd.IN_COMMUNICATE_THRU and self.raw is picc and picc.waiting:
            self.timer = None
            self.thru_answer(picc.wtx())

    def picc_activated(self, picc: Picc, rats: bytes) -> None:
        """The host sent RATS itself: the card is in ISO-DEP with this reader."""
        self.target, self.target_info, self.target_state = picc.card, picc.info, "active"
        self.target_rats = True
        self.field.record(self.name, picc.card.name, "activate", picc.info.uid)
        picc.card.rf_activate(self, rats)

    def picc_command(self, picc: Picc, capdu: bytes) -> None:
        self.field.record(self.name, picc.card.name, "cmd", capdu)
        if self.piccs.get(picc.card.name) is picc:  # the trace hook may cut
            picc.card.rf_receive(self, capdu)

    def picc_released(self, picc: Picc) -> None:
        """The host sent S(DESELECT)."""
        self.field.record(self.name, picc.card.name, "release", b"")
        if self.target is picc.card:
            self.target_state = "deselected"
        picc.card.rf_release()

    def do_in_auto_poll(self, p: bytes) -> None:
        """Poll each type in turn (§7.3.13); with nobody there answer NbTg 0 after PollNr x
        Period x 150 ms per type, or never when PollNr is FFh. An ACK aborts."""
        poll_nr, period, types = p[0], p[1], bytes(p[2:])
        if not poll_nr or not 1 <= period <= 15 or not 1 <= len(types) <= 15:
            return self.syntax_error()
        self.drop_target()
        self.rf_on = True
        self.pending = Cmd.IN_AUTO_POLL
        self.poll_types = types
        if self.try_activate():
            return
        if poll_nr != 0xFF:
            seconds = poll_nr * period * POLL_PERIOD * len(types)
            self.timer = self.field.call_later(seconds, self.poll_none)

    def poll_none(self) -> None:
        if self.pending is Cmd.IN_AUTO_POLL:
            self.respond(Cmd.IN_AUTO_POLL, b"\x00")

    def do_in_jump_for_dep(self, p: bytes) -> None:
        _ = p[2]
        self.respond(Cmd.IN_JUMP_FOR_DEP, bytes([Status.TIMEOUT]))  # no DEP targets here

    def do_in_jump_for_psl(self, p: bytes) -> None:
        _ = p[2]
        self.respond(Cmd.IN_JUMP_FOR_PSL, bytes([Status.TIMEOUT]))

    def do_in_atr(self, p: bytes) -> None:
        self.respond(Cmd.IN_ATR, bytes([Status.NOT_ACCEPTABLE]))

    def do_in_psl(self, p: bytes) -> None:
        self.respond(Cmd.IN_PSL, bytes([Status.NOT_ACCEPTABLE]))

    # -- target commands (§7.3.14-21) ---------------------------------------------------------

    def do_tg_init_as_target(self, p: bytes) -> None:
        if len(p) < 37:
            return self.syntax_error()
        gt = p[35]
        if len(p) < 37 + gt or len(p) != 37 + gt + p[36 + gt]:
            return self.syntax_error()
        tk = bytes(p[37 + gt :])
        self.tg = TargetConfig(
            mode=p[0], sens_res=bytes(p[1:3]), nfcid1t=bytes(p[3:6]), sel_res=p[6],
            historical=tk, picc=bool(self.params & PARAM_PICC),
        )
        self.tg_reader, self.tg_state, self.tg_released = None, 0, False
        self.tg_inbox.clear()
        self.tg_rest, self.tg_out, self.tg_owes = b"", bytearray(), False
        self.pending = Cmd.TG_INIT_AS_TARGET
        self.asleep = True  # AN10449 fig. 16: the chip sleeps until an RF field wakes it
        self.tg_listening = False
        wait = self.tg_released_at + ARM_SECONDS - time.monotonic()
        if wait > 0:
            self.timer = self.field.call_later(wait, self.listen)
        else:
            self.listen()

    def listen(self) -> None:
        if self.pending is Cmd.TG_INIT_AS_TARGET:
            self.tg_listening = True
            self.field.card_armed(self)

    def can_activate(self) -> bool:
        armed = self.pending is Cmd.TG_INIT_AS_TARGET and self.tg is not None
        return armed and self.tg_listening and self.tg_reader is None

    def activation(self) -> Activation:
        tg = self.tg
        assert tg is not None
        ats = b""
        if self.tg_picc():  # the PN532 composes the ATS itself
            ats = bytes([5 + len(tg.historical)]) + ATS_PREFIX + tg.historical
        return Activation(tg.sens_res[::-1], tg.sel_res, b"\x08" + tg.nfcid1t, ats)

    def rf_activate(self, reader: Reader, rats: bytes) -> None:
        """Selected by a reader; `rats` is the RATS it sent, b"" when it sent none."""
        assert self.tg is not None
        self.asleep = False
        self.tg_reader, self.tg_state = reader, 1
        if not rats:  # the chip reports a command only once one comes
            return
        # Mode: 106 kbps, ISO/IEC 14443-4 PICC (bit 3), type A framing; then the first command
        self.respond(Cmd.TG_INIT_AS_TARGET, bytes([0x08 if self.tg_picc() else 0x00]) + rats)

    def tg_picc(self) -> bool:
        """The chip runs ISO-DEP for its host (fISO14443-4_PICC and SAK bit 6 set)."""
        return self.tg is not None and self.tg.picc and bool(self.tg.sel_res & 0x20)

    def rf_frame(self, reader: Reader, frame: bytes) -> None:
        """A frame from the reader for our host to answer (TgGetInitiatorCommand)."""
        if reader is not self.tg_reader:
            return
        if self.pending is Cmd.TG_INIT_AS_TARGET:  # the first command since SELECT
            return self.respond(Cmd.TG_INIT_AS_TARGET, b"\x00" + frame)
        if self.pending is Cmd.TG_GET_INITIATOR_COMMAND and not self.tg_inbox:
            return self.respond(Cmd.TG_GET_INITIATOR_COMMAND, b"\x00" + frame)
        self.tg_inbox.append(frame)

    def rf_receive(self, reader: Reader, capdu: bytes) -> None:
        if self.pending is Cmd.TG_GET_DATA and not self.tg_inbox:
            self.tg_owes = True
            return self.send_part(Cmd.TG_GET_DATA, capdu)
        self.tg_inbox.append(capdu)

    def rf_release(self) -> None:
        """Released or deselected by the reader, or carried out of its field."""
        if self.tg_reader is None:
            return
        self.tg_reader, self.tg_state, self.tg_released = None, 2, True
        self.tg_released_at = time.monotonic()
        self.tg_inbox.clear()
        self.tg_rest, self.tg_out, self.tg_owes = b"", bytearray(), False
        if self.pending in (Cmd.TG_GET_DATA, Cmd.TG_SET_DATA, Cmd.TG_GET_INITIATOR_COMMAND):
            self.respond(self.pending, bytes([Status.RELEASED]))

    def tg_not_active(self, cmd: Cmd) -> bool:
        if self.tg_reader is not None:
            return False
        status = Status.RELEASED if self.tg_released else Status.NOT_ACCEPTABLE
        self.respond(cmd, bytes([status]))
        return True

    def do_tg_get_data(self, p: bytes) -> None:
        if self.tg_not_active(Cmd.TG_GET_DATA):
            return
        if self.tg_rest:
            return self.send_part(Cmd.TG_GET_DATA, self.tg_rest)
        if self.tg_inbox:
            self.tg_owes = True
            return self.send_part(Cmd.TG_GET_DATA, self.tg_inbox.pop(0))
        self.pending = Cmd.TG_GET_DATA

    def do_tg_set_meta_data(self, p: bytes) -> None:
        if self.tg_not_active(Cmd.TG_SET_META_DATA):
            return
        self.tg_out += p
        self.respond(Cmd.TG_SET_META_DATA, b"\x00")

    def do_tg_set_data(self, p: bytes) -> None:
        if self.tg_not_active(Cmd.TG_SET_DATA):
            return
        if not self.tg_owes:  # nothing to answer: the reader sent no command
            return self.respond(Cmd.TG_SET_DATA, bytes([Status.INVALID_STATE]))
        rapdu, self.tg_out, self.tg_owes = bytes(self.tg_out + p), bytearray(), False
        reader = self.tg_reader
        self.respond(Cmd.TG_SET_DATA, b"\x00")
        assert reader is not None
        reader.rf_response(self, rapdu)

    def do_tg_get_target_status(self, p: bytes) -> None:
        self.respond(Cmd.TG_GET_TARGET_STATUS, bytes([self.tg_state, 0x00]))

    def do_tg_get_initiator_command(self, p: bytes) -> None:
        """The next frame from the reader, for a host that runs ISO-DEP itself (§7.3.20)."""
        if self.tg_not_active(Cmd.TG_GET_INITIATOR_COMMAND):
            return
        if self.tg_picc():  # the chip runs ISO-DEP: TgGetData is the way
            return self.respond(Cmd.TG_GET_INITIATOR_COMMAND, bytes([Status.NOT_ACCEPTABLE]))
        if self.tg_inbox:
            return self.respond(Cmd.TG_GET_INITIATOR_COMMAND, b"\x00" + self.tg_inbox.pop(0))
        self.pending = Cmd.TG_GET_INITIATOR_COMMAND

    def do_tg_response_to_initiator(self, p: bytes) -> None:
        """Our host's frame to the reader (§7.3.21): the ATS after RATS, then blocks."""
        if self.tg_not_active(Cmd.TG_RESPONSE_TO_INITIATOR):
            return
        if self.tg_picc() or not p:
            return self.respond(Cmd.TG_RESPONSE_TO_INITIATOR, bytes([Status.NOT_ACCEPTABLE]))
        reader = self.tg_reader
        self.respond(Cmd.TG_RESPONSE_TO_INITIATOR, b"\x00")
        assert reader is not None
        reader.rf_frame_response(self, bytes(p))

    def do_tg_set_general_bytes(self, p: bytes) -> None:
        self.respond(Cmd.TG_SET_GENERAL_BYTES, bytes([Status.NOT_ACCEPTABLE]))


def strip_cascade(uid: bytes) -> bytes:
    """The UID in InListPassiveTarget InitiatorData, without its cascade tags (88h, §7.3.5)."""
    if len(uid) == 8 and uid[0] == 0x88:
        return uid[1:]
    if len(uid) == 12 and uid[0] == 0x88 and uid[4] == 0x88:
        return uid[1:4] + uid[5:]
    return uid
