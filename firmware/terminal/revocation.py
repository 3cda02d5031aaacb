"""The terminal's certificate revocation list: the newest one the CA signed that it has seen.

Seed, second embodiment: the CA signs a list of revoked cards; the terminal holds it and
refuses value transfer with those cards. Here it refuses any transfer or key roll with one,
naming it, and never goes back to a list with a lower sequence number, so an old list cannot
bring a revoked card back. With a `path` the list survives restarts (new file, then rename).

    holder = CrlHolder(ca_public_key, b"ZZUPURSE00001", "terminal-crl")
    holder.offer(crl_bytes)  # True when newer than the one held
    settle(a, b, purse, amount, date, crl=holder)
"""
from binascii import hexlify

from common import crl as _crl
from common.atomicfile import replace
from terminal.cardlink import SettlementError


class RevokedCard(SettlementError):
    """A card on the CRL; `card_id` and `label` name it."""

    def __init__(self, step, label, card_id, sequence):
        super().__init__(step, "card %s (%s) is revoked (CRL %d)"
                         % (label, hexlify(card_id).decode(), sequence))
        self.label = label
        self.card_id = bytes(card_id)


class CrlHolder:
    def __init__(self, ca_public_key, car=None, path=None):
        self.ca_public_key = bytes(ca_public_key)
        self.car = car
        self.path = path
        self.sequence = -1  # none held yet
        self.revoked = None
        self._data = None  # `revoked` reads this buffer
        if path is not None:
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError:
                return
            self.offer(data, save=False)

    def offer(self, data, save=True):
        """Take the CRL `data` if the CA signed it and its sequence number is higher than the
        one held: True if taken, False if not newer; CertificateError if not the CA's."""
        data = bytes(data)
        sequence, revoked = _crl.verify(data, self.ca_public_key, self.car)
        if sequence <= self.sequence:
            return False
        self._data, self.sequence, self.revoked = data, sequence, revoked
        if save and self.path is not None:
            replace(self.path, data)
        return True

    def data(self):
        """The CRL held, as signed, or None."""
        return self._data

    def check(self, step, label, card_id):
        """RevokedCard if the card `card_id` (called `label`) is on the list."""
        if self.revoked is not None and card_id in self.revoked:
            raise RevokedCard(step, label, card_id, self.sequence)


def screen(crl, ca_public_key, *cards):
    """S1002, for settle(): RevokedCard if one of `cards` (CardInfo) is on the CRL; returns
    the holder. `crl` is a CrlHolder, or CRL bytes checked against `ca_public_key`."""
    if not isinstance(crl, CrlHolder):
        if ca_public_key is None:
            raise SettlementError("S1002", "a CRL needs the CA public key to be checked")
        data, crl = crl, CrlHolder(ca_public_key)
        try:
            crl.offer(data)
        except ValueError as e:
            raise SettlementError("S1002", "CRL refused (%s)" % e.args[0]) from None
    for card in cards:
        crl.check("S1002", card.label, card.card_id)
    return crl
