"""A host stack that runs ISO/IEC 14443 itself: raw frames through InCommunicateThru reach the
simulated card (REQA/WUPA in 7 bits, ANTICOLLISION, SELECT, HLTA, RATS, ISO-DEP blocks), with
the CRC_A added and checked by the chip or by the host as the CIU registers say.

CRC_A values written out below are the standard's own (HLTA 50 00 -> 57 CD, RATS E0 80 ->
31 73); the rest come from upurse.rig.picc.crc_a, which those pin.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from test_pn532_sim import ACK, Host, hosts, rsp

from upurse.build import cached
from upurse.rig import Field
from upurse.rig.emuboard import EmulatedBoard
from upurse.rig.picc import crc_a

AID = b"\xf0upurse\x01"
CRC_OFF = "08 6302 00 6303 00"  # WriteRegister CIU_TxMode, CIU_RxMode: TxCRCEn, RxCRCEn off
CRC_ON = "08 6302 80 6303 80"
BITS_7, BITS_8 = "08 633d 07", "08 633d 00"  # CIU_BitFraming TxLastBits


def c(data: bytes) -> str:
    """A frame with its CRC_A, as hex for `thru` (the host adds the CRC)."""
    return (data + crc_a(data)).hex()


def ok(data: bytes) -> bytes:
    """Status OK and the card's frame with its CRC_A (the chip leaves the CRC on)."""
    return b"\x00" + data + crc_a(data)


@pytest.fixture
def field():
    f = Field()
    yield f
    f.stop()


def thru(h: Host, hexdata: str) -> bytes:
    """InCommunicateThru: the status byte and the card's frame."""
    got = h.call("42 " + hexdata)
    assert got[5:7] == b"\xd5\x43", got.hex()
    return got[7:-2]


def test_crc_a_vectors():
    assert crc_a(b"\x50\x00") == b"\x57\xcd"
    assert crc_a(b"\xe0\x80") == b"\x31\x73"


def test_activation_blocks_and_halt(field):
    field.add_reader("A")
    field.add_stub_card("card", b"\x12\x34\x56", respond=lambda apdu: apdu[::-1] + b"\x90\x00")
    field.place("card", "A")
    field.start()
    (h,) = hosts(field, "A")
    h.begin()
    assert h.call("12 00") == rsp("13")  # SetParameters: no automatic RATS
    assert h.call(CRC_OFF) == rsp("09")
    assert h.call(BITS_7) == rsp("09")
    assert thru(h, "26") == bytes.fromhex("00 0400")  # REQA -> ATQA, LSB first
    assert h.call(BITS_8) == rsp("09")
    uid_bcc = bytes.fromhex("08123456") + bytes([0x08 ^ 0x12 ^ 0x34 ^ 0x56])
    assert thru(h, "93 20") == b"\x00" + uid_bcc  # ANTICOLLISION: UID and BCC, no CRC
    assert thru(h, c(b"\x93\x70" + bytes(5))) == b"\x01"  # SELECT of another UID: silence
    assert h.call(BITS_7) == rsp("09")
    assert thru(h, "52")[0] == 0  # WUPA: ready again
    assert h.call(BITS_8) == rsp("09")
    sak = thru(h, c(b"\x93\x70" + uid_bcc))
    assert sak == ok(b"\x20")  # SAK, CRC as sent
    assert thru(h, "e0 80 3173") == ok(bytes.fromhex("05 75339203"))  # RATS -> ATS
    assert thru(h, "e0 80 0000") == b"\x01"  # bad CRC: the card stays silent
    # I-blocks: the PCD's block number starts at 0 and toggles; the card answers in kind
    answer = ok(bytes.fromhex("02 0004a400 9000"))  # the stub answers the APDU reversed
    assert thru(h, c(bytes.fromhex("02 00a40400"))) == answer
    assert thru(h, c(b"\xb2")) == answer  # R(NAK) with the card's block number: sent again
    assert thru(h, c(b"\xb3")) == ok(b"\xa2")  # with the other: R(ACK)
    assert thru(h, c(b"\x13\x01\x02")) == ok(b"\xa3")  # chained I-block: R(ACK)
    assert thru(h, c(b"\x02\x03")) == ok(bytes.fromhex("02 030201 9000"))
    assert h.call(CRC_ON) == rsp("09")  # the chip adds and checks the CRC now
    assert thru(h, "0b 00 aa") == bytes.fromhex("00 0b 00 aa 90 00")  # CID 0 comes back
    assert thru(h, "c2") == bytes.fromhex("00 c2")  # S(DESELECT)
    assert thru(h, "03 01") == b"\x01"  # deselected: no ISO-DEP any more
    assert h.call(BITS_7) == rsp("09")
    assert thru(h, "26") == b"\x01"  # halted: REQA does not wake it ...
    assert thru(h, "52") == bytes.fromhex("00 0400")  # ... WUPA does
    assert h.call(BITS_8) == rsp("09")
    assert thru(h, "93 70" + uid_bcc.hex()) == b"\x00\x20"
    assert thru(h, "50 00") == b"\x01"  # HLTA: no answer
    h.close()
    assert [e.direction for e in field.trace] == [
        "activate", "cmd", "rsp", "cmd", "rsp", "cmd", "rsp", "release"]
    assert field.apdus("cmd") == [b"\x00\xa4\x04\x00", b"\x01\x02\x03", b"\xaa"]


def test_wtx_and_response_chaining(field):
    """A card host slower than the frame waiting time: the card asks for S(WTX); a response
    longer than the FSD goes in chained I-blocks, each fetched with R(ACK)."""
    field.add_reader("A")
    field.add_card("card")
    field.place("card", "A")
    field.start()
    r, k = hosts(field, "A", "card")
    r.begin()
    k.begin()
    assert k.call("12 30") == rsp("13")  # the card's PN532 runs ISO-DEP itself
    k.send("8C 05 0400 abcdef 20" + "00" * 28 + "00 00")
    assert field.wait(lambda: field.chip("card").can_activate(), 1)  # armed
    assert r.call(BITS_7) == rsp("09")
    assert thru(r, "26") == bytes.fromhex("00 0400")
    assert r.call(BITS_8) == rsp("09")
    uid_bcc = bytes.fromhex("08abcdef") + bytes([0x08 ^ 0xAB ^ 0xCD ^ 0xEF])
    assert thru(r, "93 20")[1:] == uid_bcc
    assert thru(r, "93 70" + uid_bcc.hex()) == b"\x00\x20"
    assert thru(r, "e0 00") == bytes.fromhex("00 05 75339203")  # FSDI 0: 16-byte frames
    assert k.frame() == rsp("8D 08 E0 00")  # the card board learns the RATS that came
    r.send("42 02 00 b0 00 00")
    assert k.call("86") == rsp("87 00 00 b0 00 00")
    assert r.frame() == rsp("43 00 f2 01")  # FWI 9 (~155 ms) ran out: S(WTX) request
    answer = bytes(range(20)) + b"\x90\x00"
    assert k.call("8E " + answer.hex()) == rsp("8F 00")
    r.silent(0.1)  # held until the host grants the time
    assert thru(r, "f2 01") == b"\x00" + b"\x12" + answer[:13]  # 16 - PCB - CRC: 13 bytes
    assert thru(r, "a3") == b"\x00" + b"\x03" + answer[13:]
    r.send("42 02 00 b0 00 00")
    assert k.call("86") == rsp("87 00 00 b0 00 00")
    field.remove("card")  # carried away while the host waits
    assert r.frame() == rsp("43 01")
    r.close()
    k.close()


def test_host_stack_reaches_select_and_get_card_info(tmp_path: Path):
    """The card firmware on its emulated board, reached by a host running ISO-DEP itself."""
    with Field() as field:
        field.add_reader("A")
        pn532 = field.add_card("card")
        field.place("card", "A")
        env = {"UPURSE_LINK": "pn532", "UPURSE_PN532": pn532,
               "UPURSE_STORE": str(tmp_path / "flash" / "upurse-card")}
        with EmulatedBoard("card", tmp_path / "flash", firmware=cached("card", "unix"),
                           env=env, log=tmp_path / "card.log"):
            assert field.wait(lambda: field.chip("card").can_activate(), 20)
            (h,) = hosts(field, "A")
            h.begin()
            host = IsoDepHost(h)
            host.activate()
            resp = host.apdu(b"\x00\xa4\x04\x00" + bytes([len(AID)]) + AID + b"\x00")
            assert resp[-2:] == b"\x90\x00" and resp[:3] == b"\x94\x01\x00"  # a blank card
            info = host.apdu(bytes.fromhex("80ca000000"))
            assert info[-2:] == b"\x90\x00" and info[:3] == b"\x94\x01\x00"
            assert host.apdu(bytes.fromhex("80ca0000010000"))[-2:] == b"\x67\x00"
            assert thru(h, "c2") == bytes.fromhex("00 c2")
            h.close()
    assert field.apdus("cmd")[1] == bytes.fromhex("80ca000000")


class IsoDepHost:
    """The PCD side of ISO/IEC 14443-4 as a host stack runs it over InCommunicateThru, with
    the chip adding and checking CRC_A (CIU_TxMode and CIU_RxMode as after power-up)."""

    def __init__(self, h: Host) -> None:
        self.h, self.bn = h, 0

    def activate(self) -> None:
        assert self.h.call("12 00") == rsp("13")  # the host sends RATS itself
        assert self.h.call(BITS_7) == rsp("09")
        assert thru(self.h, "52")[0] == 0
        assert self.h.call(BITS_8) == rsp("09")
        uid_bcc = thru(self.h, "93 20")[1:]
        assert thru(self.h, "93 70" + uid_bcc.hex())[1] & 0x20  # ISO-DEP
        ats = thru(self.h, "e0 80")
        assert ats[0] == 0 and ats[1] == len(ats) - 1

    def apdu(self, capdu: bytes) -> bytes:
        blk = thru(self.h, bytes([0x02 | self.bn]).hex() + capdu.hex())
        out = bytearray()
        while True:
            assert blk[0] == 0, blk.hex()
            pcb = blk[1]
            if pcb & 0xF7 == 0xF2:  # S(WTX): grant it
                blk = thru(self.h, blk[1:].hex())
                continue
            assert pcb & 0xE2 == 0x02 and pcb & 1 == self.bn, blk.hex()
            self.bn ^= 1
            out += blk[2:]
            if not pcb & 0x10:
                return bytes(out)
            blk = thru(self.h, bytes([0xA2 | self.bn]).hex())


def test_thru_with_no_card_times_out(field):
    field.add_reader("A")
    field.start()
    (h,) = hosts(field, "A")
    h.begin()
    assert h.call("42") == bytes.fromhex("0000ff01ff7f8100")  # no data: syntax error
    assert h.call(BITS_7) == rsp("09")
    started = time.monotonic()
    assert thru(h, "26") == b"\x01"
    assert time.monotonic() - started < 1
    h.port.write(ACK)
    h.close()


def test_card_host_answers_rats_and_blocks(field):
    """A card host running ISO-DEP itself (no fISO14443-4_PICC): the reader's RATS is the
    first command TgInitAsTarget reports, the reader waits for the host's ATS, and I-blocks
    with toggling block numbers go through TgGetInitiatorCommand / TgResponseToInitiator."""
    field.add_reader("A")
    field.add_card("card")
    field.place("card", "A")
    field.start()
    r, k = hosts(field, "A", "card")
    r.begin()
    k.begin()
    assert k.call("12 00") == rsp("13")  # the host answers RATS and runs ISO-DEP
    assert k.call("88") == rsp("89 27")  # not activated yet
    k.send("8C 04 0400 abcdef 20" + "00" * 28 + "00 00")
    assert field.wait(lambda: field.chip("card").can_activate(), 1)
    r.send("4A 01 00")
    assert k.frame() == rsp("8D 00 E0 80")  # the reader's RATS, mode: not PICC
    r.silent(0.1)  # the reader waits for the ATS
    ats = "06 75 33 92 03 42"  # the host's own, one historical byte
    assert k.call("90 " + ats) == rsp("91 00")
    assert r.frame() == rsp("4B 01 01 00 04 20 04 08 ab cd ef " + ats)
    r.send("40 01 00 a4 04 00")
    assert k.call("88") == rsp("89 00 02 00 a4 04 00")  # an I-block, block number 0
    assert k.call("90 f2 01") == rsp("91 00")  # S(WTX): the reader chip grants it
    assert k.call("88") == rsp("89 00 f2 01")
    assert k.call("90 12 61") == rsp("91 00")  # chained response part
    assert k.call("88") == rsp("89 00 a3")  # R(ACK) for it
    assert k.call("90 03 62 90 00") == rsp("91 00")
    assert r.frame() == rsp("41 00 61 62 90 00")
    r.send("40 01 00 b0 00 00")
    assert k.call("88") == rsp("89 00 02 00 b0 00 00")
    assert k.call("90 02 90 00") == rsp("91 00")
    assert r.frame() == rsp("41 00 90 00")
    assert r.call("44 00") == rsp("45 00")
    assert k.call("88") == rsp("89 29")  # released
    assert k.call("8E 90 00") == rsp("8F 29")
    r.close()
    k.close()


def test_picc_card_reports_only_a_rats_that_came(field):
    field.add_reader("A")
    field.add_card("card")
    field.place("card", "A")
    field.start()
    r, k = hosts(field, "A", "card")
    r.begin()
    k.begin()
    assert k.call("12 30") == rsp("13")  # the card's chip runs ISO-DEP
    assert r.call("12 00") == rsp("13")  # the reader sends no RATS
    k.send("8C 04 0400 abcdef 20" + "00" * 28 + "00 00")
    assert field.wait(lambda: field.chip("card").can_activate(), 1)
    assert r.call("4A 01 00") == rsp("4B 01 01 00 04 20 04 08 ab cd ef")  # no ATS
    k.silent(0.1)  # no RATS came: TgInitAsTarget has nothing to report
    assert r.call("40 01 00 a4 04 00") == rsp("41 01")  # and no ISO-DEP without it
    r.close()
    k.close()
