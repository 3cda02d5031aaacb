"""Test helper for firmware-side scripts: personalized applets on stores in a folder."""
import os

from card.applet import Applet
from card.store import Store
from common import perso
from common import proto as P

ISSUER_PERSO_KEY = b"\x11" * 16
UPDATE_KEY = b"\x22" * 16
TRANSFER_KEYS = {1: b"\x31" * 16, 2: b"\x32" * 16, 3: b"\x33" * 16}


def card_id(n):
    return bytes((0xC0, 0, 0, 0, 0, 0, 0, n))


def profile(transfer_key_id=1, balance=1000, points=50, validity=20301231, limit=10,
            max_balance=100000, update_key_id=1, update_key=UPDATE_KEY):
    return {
        "transfer_key_id": transfer_key_id,
        "transfer_key": TRANSFER_KEYS[transfer_key_id],
        "transfer_key_limit": limit,
        "update_key_id": update_key_id,
        "update_key": update_key,
        "update_key_limit": 10,
        "validity": validity,
        "scheme": P.SCHEME_SYMMETRIC,
        "purses": {P.PURSE_MONEY: (balance, max_balance), P.PURSE_POINTS: (points, max_balance)},
    }


def make_card(root, n, **kw):
    """A locked, active applet whose store lives in root/card<n>."""
    path = root + "/card" + str(n)
    try:
        os.mkdir(root)
    except OSError:
        pass
    applet = Applet(Store(path))
    cid = card_id(n)
    for apdu in perso.commands(cid, perso.diversify(ISSUER_PERSO_KEY, cid), profile(**kw)):
        resp = applet.process(apdu)
        assert resp[-2:] == b"\x90\x00", (apdu, resp)
    return applet
