"""Central clearing: the issuer's registry of every MAC-verified proof of moved value.

Terminals keep the cards' proofs in their clearing batch (firmware/terminal/clearing.py);
`upurse issuer collect` brings them here, from the host terminal of direct mode and from the
terminal board, and cards' own logs and pending records add theirs at `issuer reconcile`. Each
proof is checked with the firmware's own code (common.transfer) under the transfer key
generations the issuer holds: a proof that verifies was made by a genuine card, for exactly
that context. The registry keeps one row per transfer and kind of proof; collecting twice adds
nothing. Refused records are kept apart, for the record.

    registry = ClearingRegistry(issuer)
    registry.add(record_bytes, "terminal board")   # "new", "known" or "refused"
    registry.transfers(card_id)                    # what the registry holds of one card
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date

from common import transfer as T  # noqa: E402  (port installed by upurse.issuer)
from terminal.clearing import ABORT, CREDIT, DEBIT, Clearing, split  # noqa: E402

TABLES = """
CREATE TABLE IF NOT EXISTS opening_balances (
    card_id BLOB NOT NULL, purse INTEGER NOT NULL, balance INTEGER NOT NULL,
    PRIMARY KEY (card_id, purse));
CREATE TABLE IF NOT EXISTS cleared (
    context BLOB NOT NULL, kind INTEGER NOT NULL, mac BLOB NOT NULL, key_id INTEGER NOT NULL,
    source TEXT NOT NULL, cleared TEXT NOT NULL, PRIMARY KEY (context, kind));
CREATE TABLE IF NOT EXISTS refused_proofs (
    record BLOB PRIMARY KEY, source TEXT NOT NULL, seen TEXT NOT NULL);
"""
LABELS = {DEBIT: T.RX_CHALLENGE, CREDIT: T.CREDIT_PROOF, ABORT: T.ABORT_PROOF}
KIND_NAMES = {DEBIT: "debit", CREDIT: "credit", ABORT: "abort"}


@dataclass(frozen=True)
class Cleared:
    """One transfer as the registry knows it: which proofs it holds."""

    context: bytes
    debit: bool  # the payer debited: its RC, or the payee's CP (made only on the payer's RC)
    credit: bool  # the payee credited: its CP
    abort: bool  # the payer proved it never debited
    source: str  # where the first proof came from

    @property
    def fields(self) -> tuple:
        return T.unpack(self.context)


def tables(db: sqlite3.Connection) -> None:
    db.executescript(TABLES)


def set_opening(db: sqlite3.Connection, card_id: bytes, purses: dict[int, int]) -> None:
    """A new card's balances at personalization (committed by the caller)."""
    tables(db)
    db.executemany("INSERT OR REPLACE INTO opening_balances VALUES (?, ?, ?)",
                   [(card_id, p, b) for p, b in purses.items()])


def record(kind: int, context: bytes, mac: bytes, key_id: int) -> bytes:
    """A clearing record (terminal/clearing.py layout) for a proof found elsewhere."""
    return bytes((kind,)) + bytes(context) + bytes(mac) + key_id.to_bytes(2, "big")


class ClearingRegistry:
    def __init__(self, issuer) -> None:
        self.issuer = issuer
        self.db = issuer.db
        tables(self.db)
        current = issuer.current("transfer")
        self.keys = {g: issuer.key("transfer", g) for g in range(1, current + 1)}

    def verify(self, kind: int, context: bytes, mac: bytes, hint: int) -> int | None:
        """The transfer key generation under which the proof checks, or None."""
        label = LABELS.get(kind)
        if label is None or len(context) != T.CONTEXT_LEN:
            return None
        order = sorted(self.keys, key=lambda g: g != hint)  # the terminal's hint first
        for g in order:
            if T.check(T.session_key(self.keys[g], context), label, mac):
                return g
        return None

    def add(self, rec: bytes, source: str) -> str:
        """Store one clearing record if its MAC verifies: "new", "known" or "refused"."""
        rec = bytes(rec)
        kind, context, mac, hint = split(rec)
        context, mac = bytes(context), bytes(mac)
        key_id = self.verify(kind, context, mac, hint) if len(rec) == 84 else None
        today = date.today().isoformat()
        if key_id is None:
            self.db.execute("INSERT OR IGNORE INTO refused_proofs VALUES (?, ?, ?)",
                            (rec, source, today))
            return "refused"
        cur = self.db.execute("INSERT OR IGNORE INTO cleared VALUES (?, ?, ?, ?, ?, ?)",
                              (context, kind, mac, key_id, source, today))
        return "new" if cur.rowcount else "known"

    def add_all(self, records, source: str) -> dict[str, int]:
        counts = {"new": 0, "known": 0, "refused": 0}
        for rec in records:
            counts[self.add(rec, source)] += 1
        self.db.commit()
        return counts

    def opening(self, card_id: bytes) -> dict[int, int] | None:
        rows = self.db.execute("SELECT purse, balance FROM opening_balances WHERE card_id = ?",
                               (card_id,)).fetchall()
        return dict(rows) if rows else None

    def transfers(self, card_id: bytes | None = None) -> list[Cleared]:
        """Every cleared transfer (of one card: as payer or payee), oldest context first."""
        by_context: dict[bytes, dict] = {}
        for context, kind, source in self.db.execute(
                "SELECT context, kind, source FROM cleared ORDER BY rowid"):
            c = T.unpack(context)
            if card_id is not None and card_id not in (c[3], c[4]):
                continue
            t = by_context.setdefault(context, {"kinds": set(), "source": source})
            t["kinds"].add(kind)
        return [Cleared(ctx, DEBIT in t["kinds"] or CREDIT in t["kinds"], CREDIT in t["kinds"],
                        ABORT in t["kinds"], t["source"]) for ctx, t in by_context.items()]

    def refused(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM refused_proofs").fetchone()[0]

    def fates(self) -> dict[bytes, str]:
        """The issuer's own decisions on transfers (upurse.resolve): context -> fate."""
        try:
            return dict(self.db.execute("SELECT context, fate FROM resolutions"))
        except sqlite3.OperationalError:  # no transfer was ever resolved by the issuer
            return {}


def collect_host(registry: ClearingRegistry, folder: str) -> dict[str, int]:
    """The host terminal's batch (direct mode: its journal's folder), into the registry."""
    batch = Clearing(folder)
    records = batch.read(0, batch.count())
    counts = registry.add_all(records, "host terminal")
    batch.drop(len(records))  # only once the registry has committed them
    return counts


def collect_board(registry: ClearingRegistry, request, source: str) -> dict[str, int]:
    """A terminal board's batch, through its service (`request(op, **fields)` -> reply)."""
    records: list[bytes] = []
    while True:
        reply = request("clearing", start=len(records), max=16)
        page = [bytes.fromhex(r) for r in reply["records"]]
        records += page
        if not page or len(records) >= reply["total"]:
            break
    counts = registry.add_all(records, source)
    if records:
        request("clearing_drop", upto=len(records))
    return counts
