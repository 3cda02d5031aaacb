"""The PN532 driver on real boards' interpreters against the simulated field: a card board
(tests/mpy/pn532_card.py) and a terminal's reader (tests/mpy/pn532_reader.py), each its own
process on its own pseudo-terminal, MicroPython in a 64 KiB heap (unix port or QEMU board) or
CPython through the port."""
from __future__ import annotations

import subprocess

import pytest
from conftest import MPY_TESTS

from upurse.qemu import spawn_script
from upurse.rig import Field
from upurse.rig.board import spawn

TG_INIT_AS_TARGET, IN_DATA_EXCHANGE, TG_GET_DATA, TG_SET_META_DATA = 0x8C, 0x40, 0x86, 0x94


def board(interpreter: str, script: str, pty: str, *args: str) -> subprocess.Popen:
    """A board on the field's pty: a unix-port or CPython process, or a QEMU board whose
    UART1 is the pty (the CMSDK UART driver, boards/qemu/cmsdk_uart.py)."""
    if interpreter == "qemu":
        return spawn_script(MPY_TESTS / script, "cmsdk:1", *args, uarts=(pty,), heap="64k",
                            path=(MPY_TESTS,))
    heap = "64k" if interpreter == "micropython" else None
    return spawn(interpreter, MPY_TESTS / script, pty, *args, heap=heap, path=(MPY_TESTS,))


def finish(proc: subprocess.Popen, name: str) -> str:
    try:
        out = proc.communicate(timeout=20)[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        out = proc.communicate()[0]
        pytest.fail(f"{name} hung:\n{out}")
    assert proc.returncode == 0, f"{name} exited {proc.returncode}:\n{out}"
    return out


def armed(field: Field, card: str, times: int) -> bool:
    return sum(1 for d in field.chip(card).received if d[0] == TG_INIT_AS_TARGET) >= times


def test_reader_and_card_boards(interpreter):
    with Field() as field:
        a = field.add_reader("A")
        c = field.add_card("card-a")
        card = board(interpreter, "pn532_card.py", c, "a1b2c3", "15")
        # out of any field the card times out and re-arms: abort by wake-up + ACK works
        assert field.wait(lambda: armed(field, "card-a", 2), 10), card.kill()
        field.place("card-a", "A")
        reader = board(interpreter, "pn532_reader.py", a, "echo")
        out_r, out_c = finish(reader, "reader"), finish(card, "card")
    assert "UID 08a1b2c3 ATS 0575339203" in out_r
    assert "OK reader echo 3 apdus" in out_r
    assert "OK card served 3 apdus in 1 activations" in out_c
    cmds = [e.data for e in field.trace if e.direction == "cmd"]
    assert [len(x) for x in cmds] == [7, 250, 4, 4]
    assert [len(e.data) for e in field.trace if e.direction == "rsp"] == [9, 252, 302, 2]
    reader_chip = field.chip("A")
    assert reader_chip.received[0][0] == 0x14  # SAMConfiguration first
    # 302 bytes do not fit the PN532's 262: the reader fetched the rest after status MI
    assert any(d[:2] == b"\x41\x40" for d in reader_chip.sent)


def test_chaining_both_ways_with_small_buffers(interpreter):
    with Field(buffer=64) as field:  # the chips move 64 bytes per frame at most
        a = field.add_reader("A")
        c = field.add_card("card-a")
        field.place("card-a", "A")
        card = board(interpreter, "pn532_card.py", c, "a1b2c3", "15", "64")
        reader = board(interpreter, "pn532_reader.py", a, "echo", "64")
        out_r, out_c = finish(reader, "reader"), finish(card, "card")
    assert "OK reader echo 3 apdus" in out_r and "OK card served 3" in out_c, out_r + out_c
    r, k = field.chip("A"), field.chip("card-a")
    more_in = [d for d in r.received if d[0] == IN_DATA_EXCHANGE and d[1] & 0x40]
    assert len(more_in) == 3  # 250 bytes: 64 + 64 + 64 with MI, then 58
    assert sum(1 for d in r.sent if d[:2] == b"\x41\x40") == 3 + 4  # 252 and 302 bytes back
    assert sum(1 for d in k.sent if d[:2] == b"\x87\x40") == 3  # TgGetData with MI
    assert sum(1 for d in k.received if d[0] == TG_SET_META_DATA) == 3 + 4
    assert field.apdus("cmd")[1] == b"\x80\x10\x00\x00\xf5" + bytes(range(245))


def test_card_removed_mid_session(interpreter):
    field = Field()

    def hook(entry):  # the third command APDU never reaches the card
        if entry.direction == "cmd" and len(field.apdus("cmd")) == 3:
            field.remove("card-a")
            field.call_later(0.3, lambda: field.place("card-a", "A"))

    field.on_exchange = hook
    with field:
        a = field.add_reader("A")
        c = field.add_card("card-a")
        field.place("card-a", "A")
        card = board(interpreter, "pn532_card.py", c, "a1b2c3", "15")
        reader = board(interpreter, "pn532_reader.py", a, "removal")
        out_r, out_c = finish(reader, "reader"), finish(card, "card")
    assert "LOST after 2 PN532 error 0x01: timeout, the target has not answered" in out_r
    assert "OK reader removal lost after 2 then 5 apdus" in out_r
    assert "RELEASED" in out_c  # TgGetData answered 29h when the field went
    assert "OK card served 5 apdus in 2 activations" in out_c
    kinds = [e.direction for e in field.trace]
    assert kinds[:8] == ["activate", "cmd", "rsp", "cmd", "rsp", "cmd", "remove", "activate"]
