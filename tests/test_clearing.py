"""Finding 7 of issue 9 through the installed `upurse` command: an edited card refuses to work,
and central clearing (`issuer collect`, `issuer reconcile`) explains every card's balance or
flags it with the reason: an edit made with the card's own keys, a record put back from an
older copy. Collecting twice adds nothing; a forged proof is refused.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MPY_TESTS, run_firmware

from card.state import CardState
from terminal.clearing import RECORD

UPURSE = str(Path(sys.executable).with_name("upurse"))


def upurse(root: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess:
    proc = subprocess.run([UPURSE, *args, "--dir", str(root / "iss")], capture_output=True,
                          text=True, timeout=180, cwd=root)
    assert proc.returncode == code, (args, proc.returncode, proc.stdout, proc.stderr)
    return proc


def show(root: Path, name: str, *extra: str) -> dict:
    return json.loads(upurse(root, "card", "show", name, "--json", *extra).stdout)


def reconcile(root: Path, code: int = 0) -> dict:
    r = json.loads(upurse(root, "issuer", "reconcile", "--json", code=code).stdout)
    return {c["name"]: c for c in r["balances"]} | {"": r}


def state(root: Path, name: str) -> Path:
    return root / "iss" / "cards" / name / "state"


@pytest.fixture
def issuer(tmp_path: Path) -> Path:
    upurse(tmp_path, "issuer", "init")
    upurse(tmp_path, "card", "create", "a", "--balance", "100")
    upurse(tmp_path, "card", "create", "b", "--balance", "0")
    return tmp_path


def test_clearing_batch_on_both_interpreters(interpreter: str, tmp_path: Path) -> None:
    out = run_firmware(interpreter, MPY_TESTS / "clearing_batch.py", str(tmp_path / "t"))
    assert "OK clearing batch" in out


@pytest.mark.parametrize("interpreter", ["micropython", "cpython"])
def test_balance_byte_edit_is_refused_and_flagged(issuer: Path, interpreter: str) -> None:
    """The review's attack: the balance byte of cards/a/state set to 255, then a payment of 200."""
    record = bytearray(state(issuer, "a").read_bytes())
    at = record.find(bytes.fromhex("a00f850101 8d04".replace(" ", ""))) + 10
    assert record[at] == 100
    record[at] = 0xFF
    state(issuer, "a").write_bytes(bytes(record))
    for extra in ((), ("--rig", "direct", "--interpreter", interpreter)):
        refused = upurse(issuer, "card", "show", "a", *extra, code=1)
        assert "stored record is damaged or was edited" in refused.stderr
        assert "(6581)" in refused.stderr and len(refused.stderr.splitlines()) == 1
        refused = upurse(issuer, "transfer", "a", "b", "200", *extra, code=1)
        assert "(6581)" in refused.stderr
    assert show(issuer, "b")["balance"] == 0
    assert state(issuer, "a").read_bytes() == bytes(record)  # the card never wrote over it
    r = reconcile(issuer, code=2)
    assert r[""]["flagged"] == ["a"]
    assert "cannot be read" in r["a"]["flags"][0] and "6581" in r["a"]["flags"][0]
    assert r["b"]["flags"] == [] and r["b"]["balances"]["money"] == 0


def test_edit_with_the_cards_own_keys_is_flagged(issuer: Path) -> None:
    """Whoever reads the whole flash holds the card's keys and can remake the record's MAC:
    the card then pays from it, and clearing is what sees it."""
    upurse(issuer, "transfer", "a", "b", "30")
    s = CardState.decode(state(issuer, "b").read_bytes())
    s.purses[1][0] = 255
    state(issuer, "b").write_bytes(b"".join(s.pieces()))
    assert show(issuer, "b")["balance"] == 255  # the MAC checks: the card believes it
    upurse(issuer, "issuer", "collect")
    r = reconcile(issuer, code=2)
    assert r[""]["flagged"] == ["b"]
    assert r["b"]["flags"] == ["money balance 255, cleared transactions explain 30 "
                               "(+225 unexplained)"]
    assert r["a"]["flags"] == [] and r["a"]["expected"]["money"] == 70


def test_rolled_back_card_is_flagged(issuer: Path) -> None:
    """An older valid copy of a's record put back after it paid: its MAC is good, its log has
    forgotten the payments that the terminals cleared."""
    old = state(issuer, "a").read_bytes()
    upurse(issuer, "transfer", "a", "b", "60")  # the terminal board
    upurse(issuer, "transfer", "a", "b", "10", "--rig", "direct")  # the host terminal
    upurse(issuer, "issuer", "collect")
    assert reconcile(issuer)[""]["flagged"] == []
    state(issuer, "a").write_bytes(old)
    assert show(issuer, "a")["balance"] == 100  # the card cannot tell
    r = reconcile(issuer, code=2)
    assert r[""]["flagged"] == ["a"]
    balance, rollback = r["a"]["flags"]
    assert balance == "money balance 100, cleared transactions explain 30 (+70 unexplained)"
    assert rollback.startswith("the card no longer remembers 2 cleared transaction(s)")
    assert rollback.endswith("its record was put back from an older copy")


def test_collect_is_idempotent_and_refuses_forged_proofs(issuer: Path) -> None:
    upurse(issuer, "transfer", "a", "b", "5")
    upurse(issuer, "transfer", "a", "b", "7", "--rig", "direct")
    batch = issuer / "iss" / "terminal" / "clearing"
    kept = batch.read_bytes()
    assert len(kept) == 2 * RECORD  # the debit's reception challenge and the credit proof
    first = json.loads(upurse(issuer, "issuer", "collect", "--json").stdout)["collected"]
    assert first == {"host terminal": {"new": 2, "known": 0, "refused": 0},
                     "terminal board": {"new": 2, "known": 0, "refused": 0}}
    assert batch.read_bytes() == b""  # collected: the terminal forgets them
    # the same batch again (a collect whose drop never happened), plus a forged credit proof
    forged = bytearray(kept[RECORD:])
    forged[70] ^= 1  # inside the MAC
    batch.write_bytes(kept + bytes(forged))
    again = json.loads(upurse(issuer, "issuer", "collect", "--json").stdout)["collected"]
    assert again == {"host terminal": {"new": 0, "known": 2, "refused": 1},
                     "terminal board": {"new": 0, "known": 0, "refused": 0}}
    r = reconcile(issuer)
    assert r[""]["flagged"] == [] and r[""]["refused_proofs"] == 1
    assert (r["a"]["expected"]["money"], r["b"]["expected"]["money"]) == (88, 12)


def test_reconcile_survives_a_damaged_card_and_a_missing_one(issuer: Path) -> None:
    upurse(issuer, "card", "create", "c", "--balance", "9")
    state(issuer, "a").write_bytes(b"\x00" * 40)
    shutil.rmtree(issuer / "iss" / "cards" / "c")
    r = reconcile(issuer, code=2)
    assert r[""]["flagged"] == ["a", "c"]
    assert r["b"]["flags"] == []
