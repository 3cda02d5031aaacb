"""Interrupted transfers, key rolls and recoveries, finished exactly once (docs/protocol.md,
"Resumable transfer").

The sweep (tests/mpy/interrupt_sweep.py) cuts every flow at every APDU boundary in three ways
and resumes each cut seven ways, in one interpreter per group. The CLI tests do the same by hand
through `upurse` with the cards as MicroPython processes: `--interrupt-after`, then `upurse
recover` one card at a time or the next `upurse transfer`, and `upurse issuer reconcile`.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MPY_TESTS, run_firmware

UPURSE = [sys.executable, "-m", "upurse.cli"]
KINDS = 3  # pulled before the command, answer lost, terminal killed after the answer
MODES = 7  # resume modes in interrupt_sweep.MODES


@pytest.mark.parametrize("group", ["transfers", "recoveries"])
def test_every_cut_is_finished_exactly_once(interpreter: str, group: str, tmp_path: Path) -> None:
    # the QEMU board (13 times slower) resumes each cut one way, the modes in turn
    rotate = ("rotate",) if interpreter == "qemu" else ()
    out = run_firmware(interpreter, MPY_TESTS / "interrupt_sweep.py", str(tmp_path), group,
                       *rotate, timeout=300)
    flows = re.findall(r"flow (.+): exchanges (\d+) points (\d+)", out)
    assert flows, out
    for name, exchanges, points in flows:
        # every exchange cut 3 ways, except "killed" after the last one (nothing left to cut)
        assert int(points) == KINDS * int(exchanges) - 1, name
    total = sum(int(p) for _, _, p in flows)
    summary = re.search(r"OK interrupt \S+ points (\d+) scenarios (\d+) most_contacts (\d+)",
                        out)
    assert summary, out
    points, scenarios, contacts = map(int, summary.groups())
    assert points == total and scenarios == (1 if rotate else MODES) * points
    assert (1 if rotate else 2) <= contacts <= 5  # one card at a time: a few alternations
    if group == "transfers":
        names = [n for n, _, _ in flows]
        assert names == ["transfer", "transfer rolling the payee's key",
                         "transfer rolling the payer's key"]
        assert points == 20 + 26 + 26  # 7 exchanges; 9 with a key roll (S1005, S1006)
    else:
        assert points > 250


# -- through the CLI, cards as MicroPython processes --------------------------------------------

def upurse(root: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess:
    proc = subprocess.run([*UPURSE, *args, "--dir", str(root / "iss")], capture_output=True,
                          text=True, timeout=120, cwd=root)
    assert proc.returncode == code, (args, proc.stdout, proc.stderr)
    return proc


def card(root: Path, name: str) -> dict:
    return json.loads(upurse(root, "card", "show", name, "--json").stdout)


def reconcile(root: Path) -> dict:
    return json.loads(upurse(root, "issuer", "reconcile", "--json").stdout)


@pytest.fixture
def issuer(tmp_path: Path) -> Path:
    upurse(tmp_path, "issuer", "init")
    upurse(tmp_path, "card", "create", "a", "--balance", "1000")
    upurse(tmp_path, "card", "create", "b", "--balance", "500")
    return tmp_path


def test_cut_after_s2003_then_one_card_at_a_time(issuer: Path) -> None:
    cut = upurse(issuer, "transfer", "a", "b", "100", "--interrupt-after", "S2003", code=3)
    assert "interrupted: the cards left the field after S2003" in cut.stderr
    assert "upurse recover a b" in cut.stderr
    assert len(cut.stderr.strip().splitlines()) == 1
    a = card(issuer, "a")
    assert (a["balance"], a["pending"], card(issuer, "b")["balance"]) == (900, 1, 500)
    r = reconcile(issuer)
    assert r["in_flight"] == {"money": 100}
    [t] = r["transfers"]
    assert (t["payer"], t["payee"], t["amount"], t["in_flight"], t["agree"]) == (
        "a", "b", 100, True, False)

    first = json.loads(upurse(issuer, "recover", "a", "--json").stdout)
    assert first["done"] == [] and first["waiting"][0]["needs"] == "payee"
    second = upurse(issuer, "recover", "b").stdout
    assert "a -> b of 100 money completed (b credited)" in second
    assert "present a" in second
    third = upurse(issuer, "recover", "a").stdout
    assert "confirmed (a's pending record cleared by b's credit proof)" in third
    assert upurse(issuer, "recover", "a", "b").stdout.strip() == "nothing pending for a, b"
    a, b = card(issuer, "a"), card(issuer, "b")
    assert (a["balance"], a["pending"], b["balance"], b["pending"]) == (900, 0, 600, 0)
    r = reconcile(issuer)
    assert r["in_flight"] == {} and [t["agree"] for t in r["transfers"]] == [True]
    log = json.loads(upurse(issuer, "card", "log", "b", "--json").stdout)["log"]
    assert [(e["direction"], e["amount"], e["counterparty"]) for e in log] == [("in", 100, "a")]


@pytest.mark.parametrize("step, outcomes, moved", [
    ("S2002", ["transfer a -> b of 100 money undone (a never debited; b dropped its tentative "
               "credit)",
               "permission a -> b of 100 money released (b holds no record of it; a's amount "
               "set aside came back)"], 0),
    ("S2004", ["transfer a -> b of 100 money confirmed (a's pending record cleared by b's "
               "credit proof)"], 100),
])
def test_next_transfer_finishes_the_cut_one_first(issuer: Path, step: str, outcomes: list,
                                                   moved: int) -> None:
    upurse(issuer, "transfer", "a", "b", "100", "--interrupt-after", step, code=3)
    out = upurse(issuer, "transfer", "b", "a", "7").stdout
    lines = out.strip().splitlines()
    assert lines[:-1] == [f"recovered: earlier {o}" for o in outcomes], lines
    assert lines[-1].startswith("b -> a: 7 money")
    a, b = card(issuer, "a"), card(issuer, "b")
    assert (a["balance"], b["balance"]) == (1000 - moved + 7, 500 + moved - 7)
    assert a["pending"] == b["pending"] == 0
    assert reconcile(issuer)["in_flight"] == {}


def test_cut_key_roll_never_goes_back(tmp_path: Path) -> None:
    upurse(tmp_path, "issuer", "init")
    upurse(tmp_path, "card", "create", "old", "--balance", "100")
    upurse(tmp_path, "issuer", "rotate-transfer-key")
    upurse(tmp_path, "card", "create", "new", "--balance", "100")
    cut = upurse(tmp_path, "transfer", "new", "old", "10", "--interrupt-after", "S1006", code=3)
    assert "after S1006 (S2001 not done)" in cut.stderr
    assert card(tmp_path, "old")["transfer_key_id"] == 2  # rolled, then the cards left
    out = json.loads(upurse(tmp_path, "transfer", "new", "old", "10", "--json").stdout)
    assert out["key_roll"] == "none" and out["recovered"] == []
    assert (card(tmp_path, "old")["balance"], card(tmp_path, "new")["balance"]) == (110, 90)


def test_a_pending_record_with_an_absent_card_is_named(issuer: Path) -> None:
    """The host terminal (--rig direct) and its journal in the issuer folder: what it learned
    from c alone finishes a's record when a comes back with another card."""
    upurse(issuer, "card", "create", "c", "--balance", "0")
    upurse(issuer, "transfer", "a", "c", "10", "--interrupt-after", "S2003", code=3)
    refused = upurse(issuer, "transfer", "a", "b", "5", "--rig", "direct", code=1)
    assert "a pending transfer must be resolved first" in refused.stderr
    assert "a debited; the value is in flight until c credits; present c" in refused.stderr
    assert card(issuer, "b")["balance"] == 500
    upurse(issuer, "recover", "c")
    out = upurse(issuer, "transfer", "a", "b", "5", "--rig", "direct").stdout
    assert "a -> c of 10 money confirmed" in out
    assert (card(issuer, "a")["balance"], card(issuer, "c")["balance"]) == (985, 10)


def test_issuer_resolve_settles_both_sides(issuer: Path) -> None:
    """`upurse issuer resolve`: the issuer's MACed verdict, from what it reads on both cards."""
    upurse(issuer, "transfer", "a", "b", "100", "--interrupt-after", "S2002", code=3)
    out = upurse(issuer, "issuer", "resolve", "b").stdout
    assert ("resolved by the issuer: b's incoming record of a -> b of 100 money on" in out
            and "the payer never debited it; dropped (balance 500)" in out), out
    upurse(issuer, "transfer", "a", "b", "100", "--interrupt-after", "S2003", code=3)
    r = json.loads(upurse(issuer, "issuer", "resolve", "a", "--json").stdout)["resolved"]
    assert [(x["card"], x["record"], x["outcome"], x["balance"]) for x in r] == [
        ("a", "outgoing", "credited", 900), ("b", "incoming", "credited", 600)]
    assert upurse(issuer, "issuer", "resolve", "a").stdout.strip() == "nothing pending for a"
    a, b = card(issuer, "a"), card(issuer, "b")
    assert (a["balance"], a["pending"], b["balance"], b["pending"]) == (900, 0, 600, 0)
    assert reconcile(issuer)["in_flight"] == {}
    upurse(issuer, "transfer", "b", "a", "1")  # both pay and receive again
