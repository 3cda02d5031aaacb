"""Test helper for firmware-side scripts: personalized applets on stores in a folder.

Cards of the public-key schemes make their key pair on the card (GENERATE KEY); a test CA
with a fixed key certifies it here, with the firmware's own P-256 (`certify`, imported only
then, so that fast-path scripts keep their heap).
"""
import os
from hashlib import sha256

from card.applet import Applet
from card.store import Store
from common import perso
from common import proto as P

ISSUER_PERSO_KEY = b"\x11" * 16
UPDATE_KEY = b"\x22" * 16
TRANSFER_KEYS = {i: bytes((0x30 + i,)) * 16 for i in range(1, 13)}
UPDATE_KEYS = {i: bytes((0x40 + i,)) * 16 for i in range(1, 13)}
CA_KEY = sha256(b"upurse test CA").digest()  # below n, so a valid P-256 private key
OTHER_CA_KEY = sha256(b"another CA").digest()
CA_REFERENCE = b"ZZUPURSE00001"
CERT_DATES = (20250101, 20341231)
_ca_public = {}


def ca_public_key(key=CA_KEY):
    from common import p256

    if key not in _ca_public:
        _ca_public[key] = p256.public_key(key)
    return _ca_public[key]


def certify(cid, point, effective=CERT_DATES[0], expiration=CERT_DATES[1], ca_key=CA_KEY,
            car=CA_REFERENCE):
    """A card certificate for `point`, signed by the CA `ca_key`."""
    from common import cvc, p256

    body = cvc.body(car, point, cvc.holder(cid), effective, expiration)
    return cvc.certificate(body, p256.sign(ca_key, sha256(body).digest()))


def card_id(n):
    return bytes((0xC0, 0, 0, 0, 0, 0, 0, n))


def profile(transfer_key_id=1, balance=1000, points=50, validity=20301231, limit=10,
            max_balance=100000, update_key_id=1, update_key=UPDATE_KEY, scheme=P.SCHEME_SYMMETRIC,
            update_key_limit=10, not_before=0):
    prof = {
        "transfer_key_id": transfer_key_id,
        "transfer_key": TRANSFER_KEYS[transfer_key_id],
        "transfer_key_limit": limit,
        "update_key_id": update_key_id,
        "update_key": update_key,
        "update_key_limit": update_key_limit,
        "validity": validity,
        "scheme": scheme,
        "not_before": not_before,
        "purses": {P.PURSE_MONEY: (balance, max_balance), P.PURSE_POINTS: (points, max_balance)},
    }
    if scheme == P.SCHEME_PKI:  # Fig. 6: no update key
        for name in ("update_key_id", "update_key", "update_key_limit"):
            del prof[name]
    return prof


def value_held(states, purse=P.PURSE_MONEY):
    """Value in `purse` held by cards in the CardStates `states`: their balances, plus each
    debit still pending at its payer that no card of `states` has credited yet (a payee logs
    the context of each credit). A transfer among them never changes it."""
    from common import transfer as T

    credited = []
    for s in states:
        credited += [e[1 : 1 + T.CONTEXT_LEN] for e in s.log if e[0] == P.LOG_IN]
    total = 0
    for s in states:
        total += s.purses[purse][0]
        if s.pending_out is not None:
            context = s.pending_out[: T.CONTEXT_LEN]
            c = T.unpack(context)
            if c[0] == purse and context not in credited:
                total += c[1]
    return total


def resolution(n, context, verdict, date, key_of=None):
    """ISSUER RESOLVE's fields for card n's pending record `context`, MACed as the test issuer
    does it (under card `key_of`'s personalization key: card n's unless a test says)."""
    from common import resolution as R

    cid = card_id(key_of if key_of is not None else n)
    tag = R.mac(perso.diversify(ISSUER_PERSO_KEY, cid), cid, verdict, date, context)
    return [(P.TAG_CONTEXT, bytes(context)), (P.TAG_VERDICT, bytes((verdict,))),
            (P.TAG_DATE, date.to_bytes(4, "big")), (P.TAG_MAC, tag)]


def _run(applet, apdus):
    for apdu in apdus:
        resp = applet.process(apdu)
        assert resp[-2:] == b"\x90\x00", (apdu, resp)
    return resp[:-2]


def make_card(root, n, preloaded=None, cert=None, **kw):
    """A locked, active applet whose store lives in root/card<n>.

    Public-key schemes: `cert` is a dict of `certify` arguments (dates, CA) or None for the
    defaults. Pre-loaded scheme: `preloaded` lists the transfer key IDs the card holds.
    """
    path = root + "/card" + str(n)
    try:
        os.mkdir(root)
    except OSError:
        pass
    applet = Applet(Store(path))
    cid = card_id(n)
    key = perso.diversify(ISSUER_PERSO_KEY, cid)
    prof = profile(**kw)
    if prof["scheme"] in (P.SCHEME_PKI, P.SCHEME_HYBRID, P.SCHEME_HYBRID_UPDATE):
        _run(applet, perso.setup_commands(cid, key))
        point = perso.public_key_of(key, 0, _run(applet, [perso.generate_key(key, 0)]))
        assert point is not None
        cert = cert or {}
        ca = ca_public_key(cert.get("ca_key", CA_KEY))  # a card of another issuer: its own CA
        prof["extra"] = perso.pki_parts(ca, certify(cid, point, **cert))
        _run(applet, perso.commands(cid, key, prof, counter=1, setup=False))
    else:
        if preloaded is not None:
            prof["extra"] = perso.pki_parts(preloaded={i: TRANSFER_KEYS[i] for i in preloaded})
        _run(applet, perso.commands(cid, key, prof))
    return applet
