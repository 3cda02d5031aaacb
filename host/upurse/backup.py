"""`upurse issuer backup FILE` and `issuer restore FILE`: the issuer whole, in one sealed file.

A backup holds the registry (cards, key generations, CRL state, clearing) with every secret
opened, the CA's key, certificate and CRL, and a key check value per secret; all of it
compressed and sealed with AES-256-GCM under scrypt(backup passphrase), the file header as
associated data. The backup passphrase comes from UPURSE_BACKUP_PASSPHRASE or the terminal,
never from the command line. A backup does not depend on the key store it came from: a
registry sealed by a token that is lost restores under a passphrase, or another token.

Restore refuses to write over an issuer. Before it writes anything it checks the seal (a wrong
passphrase or one changed byte is refused), the registry's own integrity check, that every key
generation from 1 to the current one is there and matches its check value, that the CA key
matches its certificate and the CRL verifies under it; then it seals every secret under the new
key store and reads them all back.

    UPURSE_BACKUP_PASSPHRASE=... upurse issuer backup issuer.bak
    UPURSE_BACKUP_PASSPHRASE=... upurse issuer restore issuer.bak --dir new-issuer
"""
from __future__ import annotations

import base64
import json
import os
import sqlite3
import zlib
from datetime import date
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from upurse import keystore

MAGIC = b"UPURSE-ISSUER-BACKUP-1\n"
_SALT = 16
_NONCE = 12


class BackupError(Exception):
    """A backup that cannot be made or restored; one line."""


def _passphrase(confirm: bool) -> str:
    value = keystore.ask("UPURSE_BACKUP_PASSPHRASE", "backup passphrase", confirm=confirm)
    if not value:
        raise BackupError("a backup is sealed under its own passphrase: set "
                          "UPURSE_BACKUP_PASSPHRASE or run from a terminal")
    return value


def _kcv(secret: bytes) -> str:
    """Key check value: the first 3 bytes of SHA-256, enough to catch a wrong key."""
    import hashlib

    return hashlib.sha256(b"upurse kcv" + secret).hexdigest()[:6]


def seal_file(payload: dict, passphrase: str) -> bytes:
    salt, nonce = os.urandom(_SALT), os.urandom(_NONCE)
    p = keystore.SCRYPT
    header = MAGIC + json.dumps({"n": p["n"], "r": p["r"], "p": p["p"]}).encode() + b"\n"
    key = keystore.scrypt_key(passphrase, salt, p["n"], p["r"], p["p"])
    body = zlib.compress(json.dumps(payload).encode())
    return header + salt + nonce + AESGCM(key).encrypt(nonce, body, header + salt)


def open_file(data: bytes, passphrase: str) -> dict:
    if not data.startswith(MAGIC):
        raise BackupError("not an upurse issuer backup")
    try:
        end = data.index(b"\n", len(MAGIC)) + 1
        params = json.loads(data[len(MAGIC) : end])
        n, r, p = int(params["n"]), int(params["r"]), int(params["p"])
    except (ValueError, KeyError, TypeError):
        raise BackupError("the backup's header is damaged") from None
    if not (2 <= n <= 2**20 and 1 <= r <= 32 and 1 <= p <= 16):
        raise BackupError("the backup's header is damaged")
    header, salt = data[:end], data[end : end + _SALT]
    nonce, sealed = data[end + _SALT : end + _SALT + _NONCE], data[end + _SALT + _NONCE :]
    key = keystore.scrypt_key(passphrase, salt, n, r, p)
    try:
        body = AESGCM(key).decrypt(nonce, sealed, header + salt)
    except (InvalidTag, ValueError):
        raise BackupError("the backup does not open: wrong passphrase "
                          "(UPURSE_BACKUP_PASSPHRASE), or the file was changed") from None
    return json.loads(zlib.decompress(body))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode(), validate=True)


def _places(db: sqlite3.Connection):
    """Every sealed secret of a registry: (name, table, key columns and values, column)."""
    for key in ("perso_master_key", "ca_key_password"):
        if db.execute("SELECT 1 FROM meta WHERE key = ?", (key,)).fetchone():
            yield key, "meta", {"key": key}, "value"
    for table, prefix in (("generations", ""), ("reserved", "reserved/")):
        try:
            rows = db.execute(f"SELECT kind, id FROM {table}").fetchall()
        except sqlite3.OperationalError:
            continue  # a registry from before pre-loaded keys
        for kind, key_id in rows:
            yield f"{prefix}{kind}/{key_id}", table, {"kind": kind, "id": key_id}, "key"


def _get(db, table, where, column):
    clause = " AND ".join(f"{k} = ?" for k in where)
    value = db.execute(f"SELECT {column} FROM {table} WHERE {clause}",
                       tuple(where.values())).fetchone()[0]
    return bytes.fromhex(value) if table == "meta" else bytes(value)


def _put(db, table, where, column, raw: bytes) -> None:
    clause = " AND ".join(f"{k} = ?" for k in where)
    value = raw.hex() if table == "meta" else raw
    db.execute(f"UPDATE {table} SET {column} = ? WHERE {clause}", (value, *where.values()))


def export(issuer) -> bytes:
    """The issuer as a sealed backup (asks for the backup passphrase)."""
    from upurse import issuer_pki

    passphrase = _passphrase(confirm=True)
    plain = sqlite3.connect(":memory:")
    issuer.db.backup(plain)
    kcv = {}
    for name, table, where, column in list(_places(plain)):
        raw = issuer.secret(name, _get(plain, table, where, column))
        _put(plain, table, where, column, raw)
        kcv[name] = _kcv(raw)
    plain.execute("DELETE FROM meta WHERE key LIKE 'keystore%' OR key = 'ca_key_password'")
    kcv.pop("ca_key_password", None)
    plain.commit()
    ca = issuer_pki.load_ca(issuer.root, issuer.ca_password())
    folder = issuer.root / "ca"
    payload = {"format": 1, "created": date.today().isoformat(),
               "registry": b64(plain.serialize()), "kcv": kcv,
               "ca_key": b64(ca.private_pem()), "ca_cert": b64((folder / "ca.cvcert").read_bytes()),
               "crl": b64(issuer_pki.crl_path(issuer.root).read_bytes())}
    return seal_file(payload, passphrase)


def _checked(payload: dict):
    """The backup's registry and CA, after every check restore makes before writing."""
    from upurse.ca import CertificateAuthority

    try:
        db = sqlite3.connect(":memory:")
        db.deserialize(unb64(payload["registry"]))
        if db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError("the backup's registry fails SQLite's integrity check")
        kcv = payload["kcv"]
        secrets = {}
        for name, table, where, column in _places(db):
            raw = _get(db, table, where, column)
            if len(raw) != 16 or _kcv(raw) != kcv.get(name):
                raise BackupError(f"the backup's secret {name} does not match its check value")
            secrets[name] = (table, where, column, raw)
        for kind in ("transfer", "update"):
            top = db.execute("SELECT MAX(id) FROM generations WHERE kind = ?", (kind,)).fetchone()
            if not top[0] or any(f"{kind}/{i}" not in secrets for i in range(1, top[0] + 1)):
                raise BackupError(f"the backup lacks a {kind} key generation")
        if "perso_master_key" not in secrets or set(kcv) - set(secrets):
            raise BackupError("the backup lacks some of its secrets")
        ca = CertificateAuthority.load(unb64(payload["ca_key"]), unb64(payload["ca_cert"]))
        crl = unb64(payload["crl"])
        from terminal.revocation import CrlHolder  # noqa: E402  (port installed)

        CrlHolder(ca.public_key, ca.reference).offer(crl)
    except (KeyError, TypeError, ValueError, sqlite3.DatabaseError) as e:
        if isinstance(e, BackupError):
            raise
        raise BackupError(f"the backup's content is damaged ({type(e).__name__})") from None
    return db, secrets, ca, unb64(payload["ca_cert"]), crl


def restore(root: Path, data: bytes, settings: keystore.Settings) -> dict[str, str]:
    """Write the issuer in `data` to `root`, its secrets sealed under a new key store; the
    backup's check values, for `verify`."""
    from upurse import issuer_pki

    root = Path(root)
    if (root / "registry.sqlite").exists():
        raise BackupError(f"an issuer already exists in {root}: restore into another folder")
    payload = open_file(data, _passphrase(confirm=False))
    db, secrets, ca, cert, crl = _checked(payload)
    sealer = keystore.make_sealer(settings, create=True)
    for name, (table, where, column, raw) in secrets.items():
        _put(db, table, where, column, sealer.seal(name, raw))
    password = os.urandom(32).hex()
    meta = dict(settings.meta(), keystore_check=keystore.check_value(sealer).hex(),
                ca_key_password=sealer.seal("ca_key_password", password.encode()).hex())
    db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta.items())
    db.commit()
    (root / "cards").mkdir(parents=True, exist_ok=True)
    issuer_pki.write_ca(root, ca, cert, crl, password.encode())
    new = root / "registry.sqlite.new"
    out = sqlite3.connect(new)
    db.backup(out)
    out.close()
    os.replace(new, root / "registry.sqlite")
    return payload["kcv"]


def verify(issuer, data_kcv: dict) -> int:
    """Every secret of the restored issuer opens to its check value; how many."""
    count = 0
    for name, table, where, column in list(_places(issuer.db)):
        if name == "ca_key_password":
            continue
        if _kcv(issuer.secret(name, _get(issuer.db, table, where, column))) != data_kcv[name]:
            raise BackupError(f"restored secret {name} does not open to its check value")
        count += 1
    return count


def read(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise BackupError(f"cannot read {path}: {e.strerror}") from None


def write_new(path: Path, data: bytes) -> None:
    """Write the backup; never over an existing file."""
    try:
        with open(path, "xb") as f:
            f.write(data)
    except FileExistsError:
        raise BackupError(f"{path} exists: a backup is never written over a file") from None
    except OSError as e:
        raise BackupError(f"cannot write {path}: {e.strerror}") from None
