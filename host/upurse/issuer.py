"""The issuer: key generations, the personalization master key and the registry of cards.

Everything lives in one folder (default ./upurse-issuer): `registry.sqlite` and `cards/NAME/`,
the flash of each emulated card. The registry keeps every secret sealed by the issuer's key
store (upurse.keystore: a passphrase, or a PKCS#11 token), opened only when a command needs a
key; `issuer backup` / `issuer restore` (upurse.backup) keep a sealed copy of the whole issuer.
"""
from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from upurse import issuer_pki, keystore
from upurse.port import install

install()
from common import perso, proto  # noqa: E402

DEFAULT_DIR = Path("upurse-issuer")
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS generations (
    kind TEXT NOT NULL, id INTEGER NOT NULL, key BLOB NOT NULL, created TEXT NOT NULL,
    PRIMARY KEY (kind, id));
CREATE TABLE IF NOT EXISTS cards (
    name TEXT PRIMARY KEY, card_id BLOB UNIQUE NOT NULL, scheme TEXT NOT NULL,
    transfer_key_id INTEGER NOT NULL, update_key_id INTEGER NOT NULL,
    valid_until TEXT NOT NULL, created TEXT NOT NULL);
"""


class IssuerError(Exception):
    """A user mistake about the issuer or its cards; the message is one line."""


@dataclass(frozen=True)
class CardRecord:
    name: str
    card_id: bytes
    scheme: str
    transfer_key_id: int
    update_key_id: int
    valid_until: str


class Issuer:
    def __init__(self, root: Path):
        self.root = Path(root)
        db = self.root / "registry.sqlite"
        if not db.exists():
            raise IssuerError(f"no issuer in {self.root}: run `upurse issuer init` first")
        self.db = sqlite3.connect(db)
        self._sealer = None

    @classmethod
    def init(cls, root: Path, transfer_key_limit: int = 100, update_key_limit: int = 100,
             key_store: keystore.Settings | None = None) -> Issuer:
        """A new issuer; its secrets sealed by `key_store` (default: a passphrase store, the
        passphrase asked for, or the development one: `issuer.dev_passphrase` says so)."""
        root = Path(root)
        if (root / "registry.sqlite").exists():
            raise IssuerError(f"an issuer already exists in {root}")
        settings = key_store or keystore.new_settings("passphrase")
        try:
            sealer = keystore.make_sealer(settings, create=True)
        except keystore.KeyStoreError as e:
            raise IssuerError(str(e)) from None
        (root / "cards").mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(root / "registry.sqlite")
        db.executescript(SCHEMA)
        today = date.today().isoformat()
        ca_password = os.urandom(32).hex().encode()
        meta = dict(settings.meta(), keystore_check=keystore.check_value(sealer).hex(),
                    perso_master_key=sealer.seal("perso_master_key", os.urandom(16)).hex(),
                    ca_key_password=sealer.seal("ca_key_password", ca_password).hex(),
                    transfer_key_limit=str(transfer_key_limit),
                    update_key_limit=str(update_key_limit))
        db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        for kind in ("transfer", "update"):
            db.execute("INSERT INTO generations VALUES (?, 1, ?, ?)",
                       (kind, sealer.seal(f"{kind}/1", os.urandom(16)), today))
        issuer_pki.tables(db)
        db.commit()
        db.close()
        issuer_pki.init_ca(root, password=ca_password)  # the CA and its first CRL
        issuer = cls(root)
        issuer._sealer = sealer
        issuer.dev_passphrase = settings.dev
        return issuer

    # -- the key store ------------------------------------------------------------------------

    @property
    def sealer(self):
        """The key store, opened on first need: a passphrase or PIN is asked for only then."""
        if self._sealer is None:
            meta = dict(self.db.execute("SELECT key, value FROM meta"))
            settings = keystore.settings_from(meta)
            try:
                if settings is None:
                    self._sealer = keystore.PLAIN  # a registry from before key stores
                else:
                    sealer = keystore.make_sealer(settings)
                    keystore.check(sealer, bytes.fromhex(meta["keystore_check"]), settings)
                    self._sealer = sealer
            except keystore.KeyStoreError as e:
                raise IssuerError(str(e)) from None
        return self._sealer

    def secret(self, name: str, sealed: bytes) -> bytes:
        """The secret `name` from its sealed form in the registry."""
        try:
            return self.sealer.open(name, bytes(sealed))
        except keystore.KeyStoreError as e:
            raise IssuerError(str(e)) from None

    def seal(self, name: str, secret: bytes) -> bytes:
        return self.sealer.seal(name, secret)

    def ca_password(self) -> bytes | None:
        """The password of the CA's key file; None for an issuer from before key stores."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'ca_key_password'").fetchone()
        return self.secret("ca_key_password", bytes.fromhex(row[0])) if row else None

    def meta(self, key: str) -> str:
        return self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0]

    def current(self, kind: str) -> int:
        row = self.db.execute("SELECT MAX(id) FROM generations WHERE kind = ?", (kind,))
        return row.fetchone()[0]

    def key(self, kind: str, key_id: int) -> bytes:
        row = self.db.execute("SELECT key FROM generations WHERE kind = ? AND id = ?",
                              (kind, key_id)).fetchone()
        if row is None:
            raise IssuerError(f"no {kind} key generation {key_id} "
                              f"(current is {self.current(kind)})")
        return self.secret(f"{kind}/{key_id}", row[0])

    def rotate(self, kind: str) -> int:
        """Make the next generation of the transfer or update key current."""
        new_id = self.current(kind) + 1
        if new_id > int(self.meta(f"{kind}_key_limit")):
            raise IssuerError(f"{kind} key ID {new_id} would pass the upper limit "
                              f"{self.meta(f'{kind}_key_limit')} personalized into cards")
        reserved = issuer_pki.take_reserved(self.db, kind, new_id)  # pre-loaded into cards
        key = (self.secret(f"reserved/{kind}/{new_id}", reserved) if reserved is not None
               else os.urandom(16))
        self.db.execute("INSERT INTO generations VALUES (?, ?, ?, ?)",
                        (kind, new_id, self.seal(f"{kind}/{new_id}", key),
                         date.today().isoformat()))
        self.db.commit()
        return new_id

    def card_store(self, name: str) -> Path:
        return self.root / "cards" / name

    def card(self, name: str) -> CardRecord:
        row = self.db.execute("SELECT name, card_id, scheme, transfer_key_id, update_key_id, "
                              "valid_until FROM cards WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise IssuerError(f"no card named {name!r} in {self.root}")
        return CardRecord(*row)

    def cards(self) -> list[CardRecord]:
        rows = self.db.execute("SELECT name, card_id, scheme, transfer_key_id, update_key_id, "
                               "valid_until FROM cards ORDER BY name").fetchall()
        return [CardRecord(*r) for r in rows]

    def card_by_id(self, card_id: bytes) -> CardRecord | None:
        row = self.db.execute("SELECT name FROM cards WHERE card_id = ?", (card_id,)).fetchone()
        return self.card(row[0]) if row else None

    def personalization(self, name: str, *, balance: int, points: int, valid_until: date,
                        transfer_key_id: int | None, max_balance: int,
                        scheme: int) -> tuple[bytes, list[bytes]]:
        """Register a new card and return (card identity, the APDUs that personalize it).

        Cards of the public-key schemes answer during personalization: use `personalize`."""
        card_id, profile = self.profile(name, balance=balance, points=points,
                                        valid_until=valid_until, transfer_key_id=transfer_key_id,
                                        max_balance=max_balance, scheme=scheme)
        if scheme in issuer_pki.PK_SCHEMES:
            raise IssuerError("public-key cards make their own key pair: use personalize()")
        return card_id, perso.commands(card_id, self.perso_key(card_id), profile)

    def personalize(self, channel, name: str, **kw) -> tuple[bytes, bytes | None]:
        """Personalize the blank card behind `channel` (any scheme); returns its identity and
        certificate (None for schemes without one). Arguments as `personalization`."""
        card_id, profile = self.profile(name, **kw)
        try:
            cert = issuer_pki.personalize(channel, self.root, card_id, self.perso_key(card_id),
                                          profile, ca_password=self.ca_password())
        except issuer_pki.PkiError as e:
            raise IssuerError(str(e)) from None
        return card_id, cert

    def perso_key(self, card_id: bytes) -> bytes:
        master = self.secret("perso_master_key", bytes.fromhex(self.meta("perso_master_key")))
        return perso.diversify(master, card_id)

    def revoke(self, name: str) -> int:
        """Put card `name` on the CRL; returns the new list's sequence number."""
        try:
            return issuer_pki.revoke(self.root, self.db, name, self.card(name).card_id,
                                     self.ca_password())
        except issuer_pki.PkiError as e:
            raise IssuerError(str(e)) from None

    def crl(self) -> bytes:
        """The current CRL, as the CA signed it."""
        return issuer_pki.crl_path(self.root).read_bytes()

    def profile(self, name: str, *, balance: int, points: int, valid_until: date,
                transfer_key_id: int | None, max_balance: int,
                scheme: int) -> tuple[bytes, dict]:
        """A new card identity and what to personalize into it (common.perso profile)."""
        if not name or "/" in name or name.startswith("."):
            raise IssuerError(f"card name {name!r} is not a plain name")
        if self.db.execute("SELECT 1 FROM cards WHERE name = ?", (name,)).fetchone():
            raise IssuerError(f"a card named {name!r} already exists")
        for what, value in (("balance", balance), ("points", points)):
            if not 0 <= value <= max_balance:
                raise IssuerError(f"{what} {value} must be between 0 and the maximum {max_balance}")
        if not 0 < max_balance <= 0x7FFFFFFF:
            raise IssuerError(f"maximum balance {max_balance} must be between 1 and 2147483647")
        tk_id = self.current("transfer") if transfer_key_id is None else transfer_key_id
        uk_id = self.current("update")
        card_id = os.urandom(8)
        profile = {
            "transfer_key_id": tk_id,
            "transfer_key": self.key("transfer", tk_id),
            "transfer_key_limit": int(self.meta("transfer_key_limit")),
            "update_key_id": uk_id,
            "update_key": self.key("update", uk_id),
            "update_key_limit": int(self.meta("update_key_limit")),
            "validity": int(valid_until.strftime("%Y%m%d")),
            "scheme": scheme,
            "not_before": int(date.today().strftime("%Y%m%d")),  # the issuer's clock
            "purses": {1: (balance, max_balance), 2: (points, max_balance)},
        }
        if scheme == proto.SCHEME_PKI:  # Fig. 6: no update key
            for field in ("update_key_id", "update_key", "update_key_limit"):
                del profile[field]
        if scheme == proto.SCHEME_PRELOADED:  # Fig. 13: this generation and the next ones
            keys = issuer_pki.preloaded_keys(self.db, lambda i: self.key("transfer", i),
                                             self.current("transfer"), tk_id,
                                             profile["transfer_key_limit"], self.seal, self.secret)
            profile["extra"] = perso.pki_parts(preloaded=keys)
        return card_id, profile

    def register(self, name: str, card_id: bytes, scheme: str, transfer_key_id: int,
                 valid_until: date, opening: dict[int, int] | None = None) -> None:
        """Add a personalized card; `opening` ({purse: balance}) is what clearing starts its
        expected balance from (upurse.clearing)."""
        from upurse.clearing import set_opening

        self.db.execute("INSERT INTO cards VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (name, card_id, scheme, transfer_key_id, self.current("update"),
                         valid_until.isoformat(), date.today().isoformat()))
        if opening is not None:
            set_opening(self.db, card_id, opening)
        self.db.commit()
