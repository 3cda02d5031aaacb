"""The simulated PN532 field, driven byte by byte from the host with pyserial over its ptys.

The frames below are written out in hex (checksums computed by `frame`), so these tests pin
the bytes the simulator puts on the wire, whatever its own codec says.
"""
from __future__ import annotations

import time

import pytest
import serial

from upurse.rig import Field

ACK = bytes.fromhex("0000ff00ff00")
NACK = bytes.fromhex("0000ffff0000")
ERROR = bytes.fromhex("0000ff01ff7f8100")


def frame(tfi: int, hexdata: str) -> bytes:
    body = bytes([tfi]) + bytes.fromhex(hexdata)
    if len(body) <= 255:
        head = bytes([0, 0, 0xFF, len(body), -len(body) & 0xFF])
    else:
        hi, lo = divmod(len(body), 256)
        head = bytes([0, 0, 0xFF, 0xFF, 0xFF, hi, lo, -(hi + lo) & 0xFF])
    return head + body + bytes([-sum(body) & 0xFF, 0])


def cmd(hexdata: str) -> bytes:
    return frame(0xD4, hexdata)


def rsp(hexdata: str) -> bytes:
    return frame(0xD5, hexdata)


class Host:
    """A host controller on one emulated PN532's HSU, reading exactly as libnfc does."""

    def __init__(self, path: str) -> None:
        self.port = serial.Serial(path, 115200, timeout=1.0)

    def close(self) -> None:
        self.port.close()

    def read(self, n: int) -> bytes:
        data = self.port.read(n)
        assert len(data) == n, f"wanted {n} bytes, got {data.hex()}"
        return data

    def frame(self) -> bytes:
        head = self.read(5)
        assert head[:3] == b"\x00\x00\xff", head.hex()
        if head[3:5] == b"\xff\xff":
            ext = self.read(3)
            return head + ext + self.read((ext[0] << 8 | ext[1]) + 2)
        if head[3:5] in (b"\x00\xff", b"\xff\x00"):
            return head + self.read(1)
        return head + self.read(head[3] + 2)

    def silent(self, seconds: float = 0.2) -> None:
        self.port.timeout = seconds
        data = self.port.read(64)
        self.port.timeout = 1.0
        assert data == b"", f"unexpected {data.hex()}"

    def send(self, hexdata: str) -> None:
        self.port.write(cmd(hexdata))
        assert self.frame() == ACK

    def call(self, hexdata: str) -> bytes:
        """Send a command, check its ACK; the response frame."""
        self.send(hexdata)
        return self.frame()

    def begin(self) -> None:
        self.port.write(bytes.fromhex("5555") + bytes(14))  # HSU wake-up
        assert self.call("14 01") == rsp("15")  # SAMConfiguration, normal mode


@pytest.fixture
def field():
    f = Field()
    yield f
    f.stop()


def hosts(field: Field, *names: str) -> list[Host]:
    return [Host(field.path(n)) for n in names]


def test_frames_byte_for_byte(field):
    field.add_reader("A")
    field.start()
    (h,) = hosts(field, "A")
    h.begin()
    assert h.call("02") == bytes.fromhex("0000ff06fad50332010607e800")  # V1.6, support 07
    h.port.write(NACK)  # §6.2.1.4: the same response once more
    assert h.frame() == rsp("03 32 01 06 07")
    assert h.call("00 00 6c 69 62 6e 66 63") == rsp("01 00 6c 69 62 6e 66 63")  # line test
    assert h.call("99") == ERROR  # no such command: ACK, then the syntax error frame
    assert h.call("4A 05 00") == ERROR  # MaxTg 5
    assert h.call("32 05 ff 01") == ERROR  # MaxRetries needs 3 bytes
    assert h.call("06 63 02 63 03") == rsp("07 80 80")  # ReadRegister CIU_TxMode, RxMode
    assert h.call("08 63 02 00") == rsp("09")
    assert h.call("06 63 02") == rsp("07 00")
    bad = bytearray(cmd("02"))
    bad[-2] ^= 0xFF  # DCS wrong: the chip drops the frame, no ACK
    h.port.write(bad)
    h.silent()
    h.port.write(bytes.fromhex("0000ff03fcd40200"))  # LCS wrong
    h.silent()
    h.port.write(bytes(8) + cmd("02"))  # a long preamble is fine
    assert h.frame() == ACK and h.frame() == rsp("03 32 01 06 07")
    h.close()
    assert [bytes(d[:1]) for d in field.chip("A").received][:2] == [b"\x14", b"\x02"]


def test_low_vbat_and_power_down(field):
    field.add_reader("A")
    field.start()
    (h,) = hosts(field, "A")
    assert h.call("4A 01 00") == ERROR  # no RF before SAMConfiguration (LowVbat)
    h.begin()
    assert h.call("16 20") == rsp("17 00")  # PowerDown, wake on HSU
    h.port.write(cmd("02"))  # no wake-up: the first byte wakes the chip, the frame is lost
    h.silent()
    h.port.write(b"\x55\x55" + bytes(14) + cmd("02"))
    assert h.frame() == ACK and h.frame() == rsp("03 32 01 06 07")
    h.close()


def test_list_passive_target_waits_then_aborts(field):
    field.add_reader("A")
    field.add_stub_card("card", b"\x12\x34\x56")
    field.start()
    (h,) = hosts(field, "A")
    h.begin()
    h.send("4A 01 00")  # MxRtyPassiveActivation FF: the chip polls until a card comes
    h.silent(0.1)
    h.port.write(ACK)  # abort (§6.2.1.3): no response follows
    h.silent(0.1)
    assert h.call("32 05 ff 01 00") == rsp("33")  # one passive activation try
    assert h.call("4A 01 00") == rsp("4B 00")  # nobody there
    assert h.call("32 05 ff 01 ff") == rsp("33")
    h.send("4A 01 00")
    field.place("card", "A")  # the card comes while the chip polls
    want = "4B 01 01 00 04 20 04 08 12 34 56 05 75 33 92 03"  # ATQA 0004, SAK 20, UID, ATS
    assert h.frame() == rsp(want)
    assert h.call("40 01 00 a4 04 00") == rsp("41 00 90 00")
    assert h.call("4A 01 00 08 12 34 56") == rsp(want)  # select by UID
    assert h.call("32 05 ff 01 02") == rsp("33")  # three tries
    assert h.call("4A 01 00 08 99 99 99") == rsp("4B 00")
    assert h.call("40 01 00") == rsp("41 27")  # no target any more: not acceptable
    h.close()
    kinds = [e.direction for e in field.trace]
    assert kinds == ["activate", "cmd", "rsp", "release", "activate", "release"]


def test_extended_frames_and_chaining(field):
    field.add_reader("A")
    field.add_stub_card("card", respond=lambda apdu: apdu + b"\x90\x00")
    field.place("card", "A")
    field.start()
    (h,) = hosts(field, "A")
    h.begin()
    assert h.call("4A 01 00")[7] == 0x01
    apdu = bytes(i & 0xFF for i in range(262))
    h.port.write(cmd("40 01" + apdu.hex()))  # 265 bytes TFI..PDn: extended frame
    assert h.frame() == ACK
    first = h.frame()  # 264 bytes back: 262 with MI (extended frame), then the rest
    assert first[:8] == bytes.fromhex("0000ffffff0109f6")
    assert first == rsp("41 40" + apdu.hex())
    assert h.call("40 01") == rsp("41 00 9000")
    assert h.call("40 41 " + apdu[:100].hex()) == rsp("41 00")  # host chains: MI in Tg
    assert h.call("40 01 " + apdu[100:150].hex()) == rsp("41 00" + apdu[:150].hex() + "9000")
    assert field.apdus("cmd") == [apdu, apdu[:150]]
    h.close()


def test_card_side_and_removal(field):
    field.add_reader("A")
    field.add_card("card")
    field.place("card", "A")
    field.start()
    r, c = hosts(field, "A", "card")
    r.begin()
    c.begin()
    assert c.call("12 30") == rsp("13")  # SetParameters: auto RATS, ISO-DEP PICC
    tg_params = "05 0400 abcdef 20" + "00" * 28 + "00 02 80 41"  # Tk = 80 41
    c.send("8C " + tg_params)  # TgInitAsTarget: the chip sleeps until a reader comes
    assert r.call("4A 01 00") == rsp("4B 01 01 00 04 20 04 08 ab cd ef 07 75 33 92 03 80 41")
    assert c.frame() == rsp("8D 08 E0 80")  # ISO 14443-4 PICC at 106 kbps, RATS
    assert c.call("8A") == rsp("8B 01 00")  # TgGetTargetStatus: activated
    r.send("40 01 00 b0 00 00 10")  # InDataExchange: waits for the card's answer
    assert c.call("86") == rsp("87 00 00 b0 00 00 10")  # TgGetData
    assert c.call("94 01 02") == rsp("95 00")  # TgSetMetaData (MI)
    assert c.call("8E 03 90 00") == rsp("8F 00")  # TgSetData
    assert r.frame() == rsp("41 00 01 02 03 90 00")
    r.send("40 01 00 b0 00 00 10")
    assert c.call("86") == rsp("87 00 00 b0 00 00 10")
    field.remove("card")  # taken away while the card computes
    assert r.frame() == rsp("41 01")  # the reader's exchange times out
    assert c.call("8E 90 00") == rsp("8F 29")  # the card learns it was released
    assert c.call("86") == rsp("87 29")
    assert r.call("40 01 00 b0 00 00 10") == rsp("41 01")
    c.send("8C " + tg_params)  # re-armed, but out of the field
    r.send("4A 01 00")
    r.silent(0.1)
    field.place("card", "A")
    assert r.frame()[7] == 0x01 and c.frame() == rsp("8D 08 E0 80")
    c.send("86")
    assert r.call("44 00") == rsp("45 00")  # InDeselect: the card is released
    assert c.frame() == rsp("87 29")
    r.close()
    c.close()
    assert [e.direction for e in field.trace] == [
        "activate", "cmd", "rsp", "cmd", "remove", "activate", "release"]


def test_trace_hook_cuts_after_nth_apdu(field):
    field.add_reader("A")
    field.add_stub_card("card")
    field.place("card", "A")

    def hook(entry):
        if entry.direction == "cmd" and len(field.apdus("cmd")) == 2:
            field.remove("card")

    field.on_exchange = hook
    field.start()
    (h,) = hosts(field, "A")
    h.begin()
    h.call("4A 01 00")
    assert h.call("40 01 00 01") == rsp("41 00 90 00")
    started = time.monotonic()
    assert h.call("40 01 00 02") == rsp("41 01")  # cut before the card saw it
    assert time.monotonic() - started < 1
    assert field.apdus("rsp") == [b"\x90\x00"]
    h.close()


def test_auto_poll_lists_waits_and_aborts(field):
    field.add_reader("A")
    field.add_stub_card("card", b"\x12\x34\x56")
    field.start()
    (h,) = hosts(field, "A")
    h.begin()
    assert h.call("60 01 01") == ERROR  # no target type
    started = time.monotonic()
    assert h.call("60 01 01 20 10") == rsp("61 00")  # empty field: 1 x 150 ms per type
    assert time.monotonic() - started >= 0.3
    h.send("60 ff 01 20")  # PollNr FFh: polls until a card comes or the host aborts
    h.silent(0.2)
    h.port.write(ACK)
    h.silent(0.2)
    h.send("60 02 02 10 20")
    field.place("card", "A")  # Mifare type first: listed without RATS, so no ATS
    assert h.frame() == rsp("61 01 10 09 01 00 04 20 04 08 12 34 56")
    assert h.call("40 01 00 a4") == rsp("41 01")  # no ISO-DEP without RATS
    assert h.call("00 06 00") == rsp("01 00")  # Diagnose card presence: there
    assert h.call("60 01 01 20") == rsp("61 01 20 0e 01 00 04 20 04 08 12 34 56 05 75 33 92 03")
    assert h.call("40 01 00 a4") == rsp("41 00 90 00")
    field.remove("card")
    assert h.call("00 06 00") == rsp("01 01")  # gone
    h.close()


def test_two_targets(field):
    field.add_reader("A")
    field.add_stub_card("one", b"\x11\x11\x11", respond=lambda apdu: b"\x01\x90\x00")
    field.add_stub_card("two", b"\x22\x22\x22", respond=lambda apdu: b"\x02\x90\x00")
    field.place("one", "A")
    field.start()
    (h,) = hosts(field, "A")
    h.begin()
    one = "00 04 20 04 08 11 11 11 05 75 33 92 03"
    two = "00 04 20 04 08 22 22 22 05 75 33 92 03"
    assert h.call("4A 02 00") == rsp("4B 01 01 " + one)  # MaxTg 2, one card there
    field.place("two", "A")
    assert h.call("4A 02 00") == rsp("4B 02 01 " + one + " 02 " + two)
    assert h.call("40 02 00 a4") == rsp("41 00 02 90 00")  # Tg 2
    assert h.call("40 01 00 a4") == rsp("41 00 01 90 00")  # Tg 1
    assert h.call("40 03 00 a4") == rsp("41 27")  # no Tg 3
    assert h.call("54 02") == rsp("55 00")  # InSelect
    assert h.call("44 00") == rsp("45 00")  # InDeselect all
    assert h.call("40 02 00 a4") == rsp("41 27") and h.call("40 01 00 a4") == rsp("41 27")
    assert h.call("4A 02 00") == rsp("4B 02 01 " + one + " 02 " + two)
    assert h.call("52 02") == rsp("53 00")  # InRelease Tg 2 only
    assert h.call("40 01 00 a4") == rsp("41 00 01 90 00")
    assert h.call("40 02 00 a4") == rsp("41 27")
    h.close()
    assert [e.direction for e in field.trace].count("release") == 4
