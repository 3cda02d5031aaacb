"""The terminal's clearing batch: every proof of moved value it saw, kept until the issuer
collects it (`upurse issuer collect`, docs/clearing.md).

Stored-value schemes clear centrally: each terminal hands the issuer the cards' own proofs, and
the issuer, which holds every transfer key generation, checks them and keeps each card's
expected balance. A proof is one fixed-size record appended to the file `clearing`:

    kind (1) || context (65) || MAC (16) || [transfer key ID]_2        84 bytes

kind `DEBIT`: the payer's reception challenge RC (it debited, S2104A); `CREDIT`: the payee's
credit proof CP (it credited, S2105B); `ABORT`: the payer's abort proof AP (it never debited and
never will). The key ID is the transfer key the terminal saw the card hold, a hint for the
issuer. Appending is one small write next to the journal's; a record cut short by a power cut
is the last one, and the next append first drops it.

    c = Clearing("/flash/terminal")
    c.add(DEBIT, context, rc, key_id)
    c.read(0, 16)     # [record, ...] from record 0, at most 16
    c.drop(n)         # the issuer has the first n: forget them
"""
import os

from micropython import const

DEBIT = const(1)
CREDIT = const(2)
ABORT = const(3)
RECORD = const(84)
_CHUNK = const(16)  # records copied per read when the batch is rewritten


class Clearing:
    def __init__(self, folder):
        self.path = folder.rstrip("/") + "/clearing"
        try:
            os.mkdir(folder)
        except OSError:
            pass  # exists

    def count(self):
        """Whole records held; a cut-short last one does not count."""
        try:
            return os.stat(self.path)[6] // RECORD
        except OSError:
            return 0

    def add(self, kind, context, mac, key_id):
        try:
            size = os.stat(self.path)[6]
        except OSError:
            size = 0
        if size % RECORD:  # a power cut left half a record: keep the whole ones only
            self._rewrite(0, size // RECORD)
        with open(self.path, "ab") as f:
            f.write(bytes((kind,)) + bytes(context) + bytes(mac) + key_id.to_bytes(2, "big"))

    def read(self, start, limit):
        """Up to `limit` records from record `start` on, as bytes each."""
        out = []
        try:
            with open(self.path, "rb") as f:
                f.seek(start * RECORD)
                while len(out) < limit:
                    rec = f.read(RECORD)
                    if len(rec) < RECORD:
                        break
                    out.append(rec)
        except OSError:
            pass
        return out

    def drop(self, n):
        """Forget the first `n` records (the issuer holds them); later ones stay."""
        n = min(n, self.count())
        if n:
            self._rewrite(n, self.count())

    def _rewrite(self, start, end):
        """Keep records `start` to `end` only: copied to a new file, renamed over the batch,
        so a power cut leaves the old batch or the new one."""
        new = self.path + ".new"
        with open(new, "wb") as out:
            i = start
            while i < end:
                for rec in self.read(i, min(_CHUNK, end - i)):
                    out.write(rec)
                i += _CHUNK
        os.rename(new, self.path)


def split(rec):
    """(kind, context, MAC, key ID) of one record."""
    return rec[0], rec[1:66], rec[66:82], int.from_bytes(rec[82:84], "big")
