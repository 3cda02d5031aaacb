"""The issuer's side of key-update embodiments 2-5: its CA, card certificates, the CRL and
pre-loaded transfer keys (docs/pki.md).

Files in the issuer folder, next to `registry.sqlite`:

    ca/ca-key.pem     the CA's P-256 key (PKCS#8, encrypted under a random password that the
                      issuer's key store keeps sealed, upurse.keystore)
    ca/ca.cvcert      its self-signed CVCA certificate (common.cvc)
    ca/crl.bin        the current CRL (common.crl), re-signed with a higher sequence number
                      each time a card is revoked
    terminal/crl.bin  the newest CRL the emulated terminal has seen (terminal.revocation)

Cards of the public-key schemes make their own key pair (GENERATE KEY); the issuer certifies
the public key the card returns under its personalization MAC, so the card secret key never
leaves the card. Cards of the pre-loaded scheme receive the current transfer key and the next
ones; keys for generations not yet current are reserved here, and `rotate-transfer-key` makes
the reserved key current instead of drawing a new one.
"""
from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

from common import cvc, perso  # firmware modules: importing upurse put them on the path
from common import proto as P
from common.tlv import encode, items
from upurse.ca import CertificateAuthority, create_ca, issue_card_certificate, issue_crl

PK_SCHEMES = (P.SCHEME_PKI, P.SCHEME_HYBRID, P.SCHEME_HYBRID_UPDATE)
PRELOADED_AHEAD = 3  # a pre-loaded card holds its transfer key and the next three generations
CA_YEARS = 20
TABLES = """
CREATE TABLE IF NOT EXISTS reserved (
    kind TEXT NOT NULL, id INTEGER NOT NULL, key BLOB NOT NULL, PRIMARY KEY (kind, id));
CREATE TABLE IF NOT EXISTS revoked (
    card_id BLOB PRIMARY KEY, name TEXT NOT NULL, revoked TEXT NOT NULL);
"""


class PkiError(Exception):
    """A user mistake about the CA, a certificate or the CRL; one line."""


class Channel(Protocol):
    def transmit(self, apdu: bytes) -> bytes: ...


def _yyyymmdd(d: date) -> int:
    return int(d.strftime("%Y%m%d"))


def tables(db: sqlite3.Connection) -> None:
    db.executescript(TABLES)


def init_ca(root: Path, today: date | None = None,
            password: bytes | None = None) -> CertificateAuthority:
    """Create the issuer's CA and its first (empty) CRL in `root`/ca, its key file encrypted
    under `password`."""
    today = today or date.today()
    ca = create_ca(_yyyymmdd(today), _yyyymmdd(today.replace(year=today.year + CA_YEARS)))
    write_ca(root, ca, ca.certificate, issue_crl(ca, 1, [], _yyyymmdd(today)), password)
    return ca


def write_ca(root: Path, ca: CertificateAuthority, certificate: bytes, crl: bytes,
             password: bytes | None) -> None:
    folder = Path(root) / "ca"
    folder.mkdir(parents=True, exist_ok=True)
    key = folder / "ca-key.pem"
    key.touch(0o600)
    key.write_bytes(ca.private_pem(password))
    (folder / "ca.cvcert").write_bytes(certificate)
    (folder / "crl.bin").write_bytes(crl)


def load_ca(root: Path, password: bytes | None = None) -> CertificateAuthority:
    """The CA with its private key (`password`: the issuer's `ca_password()`)."""
    folder = Path(root) / "ca"
    if not (folder / "ca-key.pem").exists():
        raise PkiError(f"the issuer in {root} has no CA: it predates the public-key schemes")
    try:
        return CertificateAuthority.load((folder / "ca-key.pem").read_bytes(),
                                         (folder / "ca.cvcert").read_bytes(), password)
    except (TypeError, ValueError) as e:
        raise PkiError(f"the CA key in {folder} does not open: {e}") from None


@dataclass(frozen=True)
class CaPublic:
    """What terminals need of the CA: its public key and reference, from its certificate."""

    public_key: bytes
    reference: bytes


def ca_public(root: Path) -> CaPublic:
    path = Path(root) / "ca" / "ca.cvcert"
    if not path.exists():
        raise PkiError(f"the issuer in {root} has no CA: it predates the public-key schemes")
    cert = cvc.parse(path.read_bytes())
    return CaPublic(cert.public_key, cert.chr)


def crl_path(root: Path) -> Path:
    return Path(root) / "ca" / "crl.bin"


def terminal_crl_path(root: Path) -> Path:
    folder = Path(root) / "terminal"
    folder.mkdir(exist_ok=True)
    return folder / "crl.bin"


def crl_sequence(data: bytes) -> int:
    from common import crl

    return crl.parse(data).sequence


def revoke(root: Path, db: sqlite3.Connection, name: str, card_id: bytes,
           ca_password: bytes | None = None) -> int:
    """Put the card on the CRL: a new list, one sequence number higher; returns it."""
    tables(db)
    if db.execute("SELECT 1 FROM revoked WHERE card_id = ?", (card_id,)).fetchone():
        raise PkiError(f"card {name} is already revoked")
    db.execute("INSERT INTO revoked VALUES (?, ?, ?)", (card_id, name, date.today().isoformat()))
    revoked = [r[0] for r in db.execute("SELECT card_id FROM revoked")]
    ca = load_ca(root, ca_password)
    sequence = crl_sequence(crl_path(root).read_bytes()) + 1
    data = issue_crl(ca, sequence, revoked, _yyyymmdd(date.today()))
    new = crl_path(root).with_suffix(".new")
    new.write_bytes(data)
    os.replace(new, crl_path(root))
    db.commit()
    return sequence


def revoked_names(db: sqlite3.Connection) -> list[str]:
    tables(db)
    return [r[0] for r in db.execute("SELECT name FROM revoked ORDER BY name")]


def take_reserved(db: sqlite3.Connection, kind: str, key_id: int) -> bytes | None:
    """The key reserved for generation `key_id` (pre-loaded into cards), if any, as the key
    store sealed it (name `reserved/KIND/ID`)."""
    tables(db)
    row = db.execute("SELECT key FROM reserved WHERE kind = ? AND id = ?",
                     (kind, key_id)).fetchone()
    return row[0] if row else None


def preloaded_keys(db: sqlite3.Connection, key_of, current: int, first: int,
                   limit: int, seal, open_) -> dict[int, bytes]:
    """Transfer keys `first`..`first + PRELOADED_AHEAD` (not above `limit`): known generations
    from `key_of`, later ones reserved now so that rotation will make them current; reserved
    keys are kept sealed (`seal(name, key)`, `open_(name, sealed)`)."""
    tables(db)
    keys = {}
    for key_id in range(first, min(first + PRELOADED_AHEAD, limit) + 1):
        if key_id <= current:
            keys[key_id] = key_of(key_id)
            continue
        name = f"reserved/transfer/{key_id}"
        sealed = take_reserved(db, "transfer", key_id)
        if sealed is None:
            key = os.urandom(16)
            db.execute("INSERT INTO reserved VALUES ('transfer', ?, ?)",
                       (key_id, seal(name, key)))
        else:
            key = open_(name, sealed)
        keys[key_id] = key
    db.commit()
    return keys


def _run(channel: Channel, apdus: list[bytes]) -> bytes:
    for apdu in apdus:
        resp = channel.transmit(apdu)
        if resp[-2:] != b"\x90\x00":
            raise PkiError(f"personalization refused by the card: {resp[-2:].hex().upper()}")
    return resp[:-2]


def personalize(channel: Channel, root: Path, card_id: bytes, perso_key: bytes, profile: dict,
                today: date | None = None, ca_password: bytes | None = None) -> bytes | None:
    """Personalize the blank card behind `channel`; returns its certificate (public-key
    schemes: the card makes its key pair, the CA certifies the public key) or None."""
    if profile["scheme"] not in PK_SCHEMES:
        _run(channel, perso.commands(card_id, perso_key, profile))
        return None
    ca = load_ca(root, ca_password)
    _run(channel, perso.setup_commands(card_id, perso_key))
    point = perso.public_key_of(perso_key, 0, _run(channel, [perso.generate_key(perso_key, 0)]))
    if point is None:
        raise PkiError("the card's public key did not come with its personalization MAC")
    effective = _yyyymmdd(today or date.today())
    cert = issue_card_certificate(ca, card_id, point, effective, profile["validity"])
    profile = dict(profile, extra=list(profile.get("extra", ())) + perso.pki_parts(
        ca.public_key, cert))
    _run(channel, perso.commands(card_id, perso_key, profile, counter=1, setup=False))
    return cert


def key_info(link) -> dict:
    """What GET KEY INFO tells: key ID limits, pre-loaded IDs, certificate dates and names.
    Selects the application first, so any channel to the card will do."""
    link.select("KEYS")
    raw = link.command("KEYS", P.INS_GET_KEY_INFO, raw=True)
    info: dict = {}
    for tag, value in items(raw):
        if tag == P.TAG_TRANSFER_KEY_LIMIT:
            info["transfer_key_limit"] = int.from_bytes(value, "big")
        elif tag == P.TAG_UPDATE_KEY_LIMIT:
            info["update_key_limit"] = int.from_bytes(value, "big")
        elif tag == P.TAG_PRELOADED_KEY:  # its ID only
            key_id = int.from_bytes(dict(items(value))[P.TAG_TRANSFER_KEY_ID], "big")
            info.setdefault("preloaded_key_ids", []).append(key_id)
        elif tag == P.TAG_CV_CERTIFICATE:
            cert = cvc.parse(encode(tag, value))
            info["certificate_effective"] = _iso(cert.effective)
            info["certificate_expiration"] = _iso(cert.expiration)
            info["certificate_authority"] = cert.car.decode()
    return info


def _iso(yyyymmdd: int) -> str:
    return f"{yyyymmdd // 10000:04d}-{yyyymmdd // 100 % 100:02d}-{yyyymmdd % 100:02d}"

