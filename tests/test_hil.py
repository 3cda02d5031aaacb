"""End to end through a terminal board, two PN532 readers and two card boards.

The same tests run on the emulated rig (default: the simulated field and three `micropython`
boards running the .mpy build) and on real boards (`make hil`, upurse.pytest_plugin). They
hold for cards that already carry value: each checks what changes, not absolute balances.
`sim` tests take cards out of the field or swap them, which needs the simulator; `hil` tests
need the boards' USB ports.
"""
from __future__ import annotations

import subprocess
import sys
import time
from datetime import date

import pytest

from upurse.rig.sim import SimRig
from upurse.terminal import TerminalError

TODAY = int(date.today().strftime("%Y%m%d"))
INS_VALUE_RX = 0x66  # S2004 (common/proto.py)
TRANSFER_STEPS = ["S2001", "S2002", "S2003", "S2004", "S2005"]


def frame(tfi: int, data: bytes) -> bytes:
    """A PN532 normal information frame (UM0701-02 §6.2.1.1), built here from the manual so
    the check does not lean on either PN532 implementation."""
    body = bytes([tfi]) + data
    return bytes([0, 0, 0xFF, len(body), -len(body) & 0xFF]) + body + bytes([-sum(body) & 0xFF, 0])


def balances(card_a, card_b) -> tuple[int, int]:
    return card_a.balance(), card_b.balance()


def test_terminal_brings_up_both_readers(terminal):
    status = terminal.request("status")
    assert status["role"] == "terminal"
    for reader in ("A", "B"):
        assert status["readers"][reader]["up"], status
        assert status["readers"][reader]["firmware"] == "1.6"  # PN532 V1.6 (§7.2.2)


def test_cards_are_known_by_application_not_uid(rig, card_a, card_b):
    first, second = rig.cards(), rig.cards()
    for reader, card in (("A", card_a), ("B", card_b)):
        a, b = first[reader], second[reader]
        assert len(a["uid"]) == 8 and a["uid"].startswith("08")  # 08h: a random UID
        assert a["uid"] != b["uid"]  # fresh per activation: the UID tracks nobody
        assert a["card_id"] == b["card_id"] == card.card_id.hex()
        assert a["ats"].startswith("05")  # ISO-DEP: the PN532 answered RATS for the card
    assert card_a.card_id != card_b.card_id


def test_transfer_moves_value_from_a_to_b(terminal, card_a, card_b):
    before = balances(card_a, card_b)
    reply = terminal.request("transfer", purse="money", amount=7, date=TODAY)
    r = reply["receipt"]
    assert (r["payer"], r["payee"]) == (card_a.card_id.hex(), card_b.card_id.hex())
    assert r["steps"][-5:] == TRANSFER_STEPS
    assert (r["payer_balance"], r["payee_balance"]) == (before[0] - 7, before[1] + 7)
    assert balances(card_a, card_b) == (before[0] - 7, before[1] + 7)


def test_trace_shows_each_apdu_inside_its_pn532_frames(terminal, card_a, card_b):
    reply = terminal.request("transfer", purse="points", amount=1, date=TODAY, trace=True)
    trace = reply["trace"]
    assert [t["step"] for t in trace][-5:] == TRANSFER_STEPS
    assert {t["card"] for t in trace} == {"A", "B"}
    for t in trace:
        apdu, resp = bytes.fromhex(t["apdu"]), bytes.fromhex(t["response"])
        frames = [(d, bytes.fromhex(f)) for d, f in t["frames"]]
        # InDataExchange Tg 1 carrying the APDU, the chip's ACK, its answer: status 00 + R-APDU
        assert frames[0] == (">", frame(0xD4, b"\x40\x01" + apdu)), t
        assert frames[1] == ("<", bytes.fromhex("0000ff00ff00"))
        assert frames[-1] == ("<", frame(0xD5, b"\x41\x00" + resp)), t
        assert resp[-2:] == b"\x90\x00"


def test_refused_transfer_names_the_step_and_changes_nothing(terminal, card_a, card_b):
    before = balances(card_a, card_b)
    with pytest.raises(TerminalError) as e:
        terminal.request("transfer", purse="money", amount=2_000_000_000, date=TODAY)
    assert e.value.step == "S2001"
    assert e.value.sw == 0x6A84  # amount above the value balance
    assert "card A refused" in str(e.value)
    assert balances(card_a, card_b) == before


def test_raw_apdus_reach_the_card_through_the_terminal(card_a):
    aid = b"\xf0upurse\x01"  # common/proto.py AID
    select = bytes.fromhex("00a40400") + bytes([len(aid)]) + aid + b"\x00"
    resp = card_a.transmit(select)
    assert resp[-2:] == b"\x90\x00"
    assert card_a.card_id in resp  # SELECT answers with the card information (S1002)
    assert card_a.transmit(bytes.fromhex("80ff0000"))[-2:] == b"\x6d\x00"  # unknown INS


def test_crl_makes_the_terminal_refuse_a_revoked_card(terminal, card_a, card_b):
    from upurse.ca import create_ca, issue_crl

    ca = create_ca(TODAY, TODAY + 10000)
    keys = {"ca": ca.public_key.hex(), "car": ca.reference.hex()}
    revoking = issue_crl(ca, 5, [card_b.card_id], TODAY)
    assert terminal.request("crl", data=revoking.hex(), **keys)["sequence"] == 5
    before = balances(card_a, card_b)
    try:
        with pytest.raises(TerminalError) as e:
            terminal.request("transfer", amount=1, date=TODAY)
        assert e.value.step == "S1002" and card_b.card_id.hex() in str(e.value)
        assert balances(card_a, card_b) == before
        old = issue_crl(ca, 4, [], TODAY)  # an older list cannot bring the card back
        assert terminal.request("crl", data=old.hex(), **keys)["taken"] is False
        with pytest.raises(TerminalError):
            terminal.request("transfer", amount=1, date=TODAY)
    finally:
        clean = issue_crl(ca, 6, [], TODAY)
        assert terminal.request("crl", data=clean.hex(), **keys)["taken"] is True
    terminal.request("transfer", amount=1, date=TODAY)
    assert balances(card_a, card_b) == (before[0] - 1, before[1] + 1)


@pytest.mark.sim
def test_cards_swapped_between_readers_pay_the_other_way(rig, terminal, card_a, card_b):
    sim = rig.sim
    slots = {p["reader"]: slot for slot, p in sim.placement().items()}
    before = balances(card_a, card_b)
    sim.field.place(slots["A"], "B")  # a person swaps the two cards
    sim.field.place(slots["B"], "A")
    try:
        r = terminal.request("transfer", amount=3, date=TODAY)["receipt"]
        assert (r["payer"], r["payee"]) == (card_b.card_id.hex(), card_a.card_id.hex())
    finally:
        sim.field.place(slots["A"], "A")
        sim.field.place(slots["B"], "B")
    assert balances(card_a, card_b) == (before[0] + 3, before[1] - 3)


@pytest.mark.sim
def test_card_pulled_before_credit_is_settled_on_the_next_transfer(rig, terminal, card_a,
                                                                   card_b):
    sim = rig.sim
    field = sim.field
    payee = next(s for s, p in sim.placement().items() if p["reader"] == "B")
    before = balances(card_a, card_b)

    def pull(entry):  # S2004 never reaches the payee: it leaves the field first
        if entry.direction == "cmd" and entry.data[1:2] == bytes([INS_VALUE_RX]):
            field.on_exchange = None
            field.remove(payee)
            field.call_later(0.2, lambda: field.place(payee, "B"))

    field.on_exchange = pull
    try:
        with pytest.raises(TerminalError) as e:
            terminal.request("transfer", amount=11, date=TODAY)
    finally:
        field.on_exchange = None
    assert e.value.step == "S2004" and "did not answer" in str(e.value)
    assert field.wait(lambda: field.where(payee) == "B", 5)
    time.sleep(0.1)
    r = terminal.request("transfer", amount=2, date=TODAY)["receipt"]
    assert [x["outcome"] for x in r["recovered"]][:1] == ["completed"]
    assert r["recovered"][0]["amount"] == 11
    assert balances(card_a, card_b) == (before[0] - 13, before[1] + 13)  # no value lost


@pytest.mark.sim
def test_card_board_brings_its_pn532_up_again_after_it_went_silent(rig, terminal, card_a,
                                                                    card_b):
    field = rig.sim.field
    slot = next(s for s, p in rig.sim.placement().items() if p["reader"] == "A")
    chip = field.chip(slot)
    log = rig.workdir / "logs" / f"{slot}.log"
    terminal.request("status")  # no card held by a reader: the card board re-arms
    chip.feed = lambda data: None  # the chip hears nothing: no ACK, no answer
    try:
        assert field.wait(lambda: b"bringing the PN532 up again" in log.read_bytes(), 10)
    finally:
        mark = len(chip.received)
        del chip.feed
    assert field.wait(lambda: SimRig._armed_since(chip, mark), 10)  # up and armed anew
    before = balances(card_a, card_b)
    terminal.request("transfer", amount=1, date=TODAY)
    assert balances(card_a, card_b) == (before[0] - 1, before[1] + 1)


@pytest.mark.sim
def test_every_exchange_crossed_the_simulated_air(rig, terminal, card_a, card_b):
    field = rig.sim.field
    start = len(field.trace)
    terminal.request("transfer", amount=1, date=TODAY)
    air = field.trace[start:]
    cmds = [e for e in air if e.direction == "cmd"]
    rsps = [e for e in air if e.direction == "rsp"]
    assert len(cmds) == len(rsps) >= 7
    assert {e.reader for e in cmds} == {"A", "B"}
    assert sum(e.direction == "activate" for e in air) == 2


@pytest.mark.hil
def test_card_boards_hold_the_deployed_firmware(rig):
    for port in rig.card_ports:
        out = subprocess.run([sys.executable, "-m", "mpremote", "connect", port, "fs", "ls",
                              "+", "reset"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert "main.py" in out.stdout and "card/" in out.stdout
