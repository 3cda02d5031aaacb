"""The issuer's key store and backups through the installed `upurse` command: secrets sealed
under a passphrase or a PKCS#11 token (SoftHSM2), never in the registry in the clear, a wrong
passphrase or PIN refused in one line, and `issuer backup` / `issuer restore` (sealed,
checked, never over an issuer)."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from upurse import keystore

UPURSE = str(Path(sys.executable).with_name("upurse"))
SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"


def upurse(root: Path, *args: str, code: int = 0, env: dict | None = None,
           dir_: str = "iss") -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("UPURSE_")} | (env or {})
    proc = subprocess.run([UPURSE, *args, "--dir", str(root / dir_)], capture_output=True,
                          text=True, timeout=180, cwd=root, env=full, stdin=subprocess.DEVNULL)
    assert proc.returncode == code, (args, proc.returncode, proc.stdout, proc.stderr)
    if code == 1:
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr  # one line, no traceback
    return proc


_OPEN = """
import sys
from upurse.issuer import Issuer
i = Issuer(sys.argv[1])
master = i.secret("perso_master_key", bytes.fromhex(i.meta("perso_master_key")))
for s in (i.key("transfer", 1), i.key("update", 1), i.ca_password(), master):
    print(s.hex())
"""
_TOKEN_KEY = """
import sys
import pkcs11
from upurse import keystore
key = keystore._session(sys.argv[1], "upurse-test", "4321").get_key(label=sys.argv[2])
assert not key[pkcs11.Attribute.EXTRACTABLE] and key[pkcs11.Attribute.SENSITIVE]
try:
    key[pkcs11.Attribute.VALUE]
    print("extracted")
except pkcs11.exceptions.PKCS11Error as e:
    print("refused", type(e).__name__)
"""


def python(script: str, *args: str, env: dict) -> str:
    """A Python of the venv in its own process: a PKCS#11 library reads its configuration
    once per process, and each test has a token of its own."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("UPURSE_")} | env
    return subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True,
                          env=full, check=True, timeout=60).stdout


def secrets(root: Path, env: dict) -> list[bytes]:
    """The issuer's secrets, opened as the CLI opens them."""
    return [bytes.fromhex(x) for x in python(_OPEN, str(root), env=env).split()]


def assert_sealed(root: Path, env: dict) -> None:
    raw = (root / "registry.sqlite").read_bytes()
    for secret in secrets(root, env):
        assert len(secret) >= 16 and secret not in raw and secret.hex().encode() not in raw
    assert b"BEGIN ENCRYPTED PRIVATE KEY" in (root / "ca" / "ca-key.pem").read_bytes()


def test_development_passphrase_by_default(tmp_path: Path) -> None:
    made = upurse(tmp_path, "issuer", "init")
    assert "development passphrase 'upurse-dev-insecure'" in made.stderr
    upurse(tmp_path, "card", "create", "a", "--balance", "10")
    assert_sealed(tmp_path / "iss", {})
    # no way to give a passphrase on the command line, where `ps` and shell history see it
    assert "unrecognized arguments: --passphrase" in upurse(
        tmp_path, "issuer", "init", "--passphrase", "x", code=1, dir_="other").stderr


def test_passphrase_store(tmp_path: Path) -> None:
    env = {"UPURSE_PASSPHRASE": "correct horse battery staple"}
    made = upurse(tmp_path, "issuer", "init", env=env)
    assert "warning" not in made.stderr
    upurse(tmp_path, "card", "create", "a", "--balance", "100", env=env)
    upurse(tmp_path, "card", "create", "b", "--balance", "0", env=env)
    assert_sealed(tmp_path / "iss", env)
    wrong = upurse(tmp_path, "card", "create", "c", "--balance", "1", code=1,
                   env={"UPURSE_PASSPHRASE": "wrong"})
    assert "wrong passphrase" in wrong.stderr
    none = upurse(tmp_path, "issuer", "rotate-transfer-key", code=1)
    assert "set UPURSE_PASSPHRASE or run from a terminal" in none.stderr
    names = json.loads(upurse(tmp_path, "card", "list", "--json").stdout)["cards"]
    assert [c["name"] for c in names] == ["a", "b"]  # nothing made by the refused commands
    upurse(tmp_path, "transfer", "a", "b", "7")  # a terminal needs no issuer secret
    assert upurse(tmp_path, "issuer", "reconcile", code=1).stderr  # verifying MACs does
    upurse(tmp_path, "issuer", "reconcile", env=env)


@pytest.fixture
def token(tmp_path: Path) -> dict:
    """A fresh SoftHSM2 token of its own (Debian's softhsm2), its PIN for the CLI."""
    (tmp_path / "tokens").mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tmp_path / 'tokens'}\nobjectstore.backend = file\n"
                    "log.level = ERROR\n")
    env = {"SOFTHSM2_CONF": str(conf)}
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "upurse-test",
                    "--pin", "4321", "--so-pin", "87654321"], check=True, capture_output=True,
                   env=os.environ | env)
    return env | {"UPURSE_PKCS11_PIN": "4321"}


def test_pkcs11_token_store(tmp_path: Path, token: dict) -> None:
    init = ("issuer", "init", "--key-store", "pkcs11", "--pkcs11-module", SOFTHSM,
            "--pkcs11-token", "upurse-test")
    upurse(tmp_path, *init, env=token)
    upurse(tmp_path, "card", "create", "a", "--balance", "100", env=token)
    upurse(tmp_path, "card", "create", "b", "--balance", "0", "--scheme", "pki", env=token)
    upurse(tmp_path, "transfer", "a", "b", "30", env=token)
    upurse(tmp_path, "issuer", "reconcile", env=token)
    assert_sealed(tmp_path / "iss", token)
    bad = upurse(tmp_path, "issuer", "rotate-transfer-key", code=1,
                 env=token | {"UPURSE_PKCS11_PIN": "0000"})
    assert "wrong PIN for the PKCS#11 token 'upurse-test'" in bad.stderr
    other = upurse(tmp_path, *init[:-1], "no-such-token", code=1, env=token, dir_="iss2")
    assert "no PKCS#11 token labelled 'no-such-token'" in other.stderr
    assert not (tmp_path / "iss2").exists()
    # the key-encryption key never leaves the token
    label = sqlite3.connect(tmp_path / "iss" / "registry.sqlite").execute(
        "SELECT value FROM meta WHERE key = 'keystore_key'").fetchone()[0]
    assert python(_TOKEN_KEY, SOFTHSM, label, env=token).startswith("refused")


def test_backup_and_restore(tmp_path: Path, token: dict) -> None:
    env = {"UPURSE_PASSPHRASE": "old passphrase"}
    upurse(tmp_path, "issuer", "init", env=env)
    upurse(tmp_path, "card", "create", "a", "--balance", "100", env=env)
    upurse(tmp_path, "card", "create", "b", "--balance", "0", "--scheme", "preloaded", env=env)
    upurse(tmp_path, "issuer", "rotate-transfer-key", env=env)
    upurse(tmp_path, "transfer", "a", "b", "25", env=env)
    upurse(tmp_path, "issuer", "collect", env=env)
    before = secrets(tmp_path / "iss", env)
    bak = tmp_path / "issuer.bak"
    refused = upurse(tmp_path, "issuer", "backup", str(bak), code=1, env=env)
    assert "UPURSE_BACKUP_PASSPHRASE" in refused.stderr
    env_b = env | {"UPURSE_BACKUP_PASSPHRASE": "backup passphrase"}
    upurse(tmp_path, "issuer", "backup", str(bak), env=env_b)
    data = bak.read_bytes()
    for secret in before:
        assert secret not in data and secret.hex().encode() not in data
    assert "never written over" in upurse(tmp_path, "issuer", "backup", str(bak), code=1,
                                          env=env_b).stderr
    # a changed byte, a wrong passphrase: refused, nothing written
    tampered = tmp_path / "tampered.bak"
    tampered.write_bytes(data[:-20] + bytes((data[-20] ^ 1,)) + data[-19:])
    for file, e in ((tampered, env_b), (bak, env | {"UPURSE_BACKUP_PASSPHRASE": "no"})):
        out = upurse(tmp_path, "issuer", "restore", str(file), code=1, env=e, dir_="new")
        assert "does not open" in out.stderr
        assert not (tmp_path / "new").exists()
    assert "already exists" in upurse(tmp_path, "issuer", "restore", str(bak), code=1,
                                      env=env_b).stderr
    # the registry is lost: restored in place, now sealed by the token
    (tmp_path / "iss" / "registry.sqlite").unlink()
    upurse(tmp_path, "issuer", "restore", str(bak), "--key-store", "pkcs11", "--pkcs11-module",
           SOFTHSM, "--pkcs11-token", "upurse-test", env=token | env_b)
    after = secrets(tmp_path / "iss", token)
    assert after[:2] + after[3:] == before[:2] + before[3:]  # the CA key file: a new password
    r = json.loads(upurse(tmp_path, "issuer", "reconcile", "--json", env=token).stdout)
    assert r["flagged"] == [] and len(r["transfers"]) == 1  # the cards' MACs verify
    upurse(tmp_path, "issuer", "rotate-transfer-key", env=token)  # pre-loaded keys reserved
    upurse(tmp_path, "card", "create", "c", "--balance", "5", env=token)
    upurse(tmp_path, "transfer", "c", "a", "5", env=token)


def test_a_secret_opens_only_under_its_name_and_its_key() -> None:
    settings = keystore.Settings("passphrase", dev=True, salt=b"s" * 16)
    sealer = keystore.make_sealer(settings)
    sealed = sealer.seal("transfer/1", b"k" * 16)
    assert sealer.open("transfer/1", sealed) == b"k" * 16
    with pytest.raises(keystore.KeyStoreError, match="'update/1' does not open"):
        sealer.open("update/1", sealed)  # moved to another name
    other = keystore.make_sealer(keystore.Settings("passphrase", dev=True, salt=b"t" * 16))
    with pytest.raises(keystore.KeyStoreError, match="wrong passphrase"):
        keystore.check(other, keystore.check_value(sealer), settings)
