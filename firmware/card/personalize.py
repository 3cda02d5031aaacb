"""Card side of personalization: loaded only while a card is being personalized.

INITIALIZE once (blank card), then PERSONALIZE commands under the personalization secure
messaging (common.perso), then LOCK, after which none of these is ever accepted again.
"""
from micropython import const

from card.applet import Reject, check
from common import proto as P
from common.perso import FIELDS
from common.perso import open_ as open_perso
from common.tlv import encode, items, need, need_uint, parse

_MAX_AMOUNT = const(0x7FFFFFFF)


def initialize(applet, p1, data):
    """Blank -> personalization: the card's identity and diversified personalization key,
    loaded once in the issuer's secure room (GlobalPlatform calls this pre-personalization)."""
    f = parse(data)
    s = applet.state
    s.card_id = bytes(need(f, P.TAG_CARD_ID, P.CARD_ID_LEN))
    s.perso_key = bytes(need(f, P.TAG_PERSO_KEY, P.KEY_LEN))
    s.perso_counter = 0
    s.life_cycle = P.STATE_PERSONALIZATION
    applet.save()
    return b""

def _open_perso(applet, ins, data):
    s = applet.state
    plain = open_perso(s.perso_key, s.perso_counter,
                       bytes((P.CLA_PROPRIETARY, ins, 0, 0)), data)
    check(plain is not None, P.SW_SECURITY)
    s.perso_counter += 1
    return plain

def personalize(applet, p1, data):
    """Load keys, key IDs and their upper limits, term of validity, scheme and purses."""
    plain = _open_perso(applet, P.INS_PERSONALIZE, data)
    s = applet.state
    for tag, value in items(plain):
        field = FIELDS.get(tag)
        if field is not None:
            name, size = field
            check(len(value) == size, P.SW_WRONG_DATA)
            setattr(s, name, bytes(value) if size == P.KEY_LEN
                    else int.from_bytes(bytes(value), "big"))
        elif tag == P.TAG_PURSE_RECORD:
            p = parse(value)
            balance = need_uint(p, P.TAG_BALANCE, 4)
            maximum = need_uint(p, P.TAG_MAX_BALANCE, 4)
            check(balance <= maximum <= _MAX_AMOUNT, P.SW_WRONG_DATA)
            s.purses[need_uint(p, P.TAG_PURSE, 1)] = [balance, maximum]
        elif tag in _KEY_FIELDS:  # embodiments 2-5 (card/keys.py)
            _key_field(s, tag, value)
        else:
            raise Reject(P.SW_WRONG_DATA)
    applet.save()
    return b""

_KEY_FIELDS = (P.TAG_CV_PUBLIC_KEY, P.TAG_CV_BODY, P.TAG_CV_SIGNATURE, P.TAG_PRELOADED_KEY)


def _key_field(s, tag, value):
    from card import keys as K

    if tag == P.TAG_CV_PUBLIC_KEY:  # schemes 2, 3, 5: CA public key 101, 7F49 { 86 }
        K.set_field(s, K.T_CA_KEY, bytes(need(parse(value), P.TAG_CV_POINT, 65)))
    elif tag == P.TAG_CV_BODY:  # card public key certificate 102A: its body, then...
        K.set_field(s, K.T_CERTIFICATE, encode(P.TAG_CV_BODY, value))
    elif tag == P.TAG_CV_SIGNATURE:  # ...the CA's signature completes it (LOCK checks it)
        body = K.field(s, K.T_CERTIFICATE)
        check(body is not None and body[:2] == b"\x7f\x4e", P.SW_WRONG_STATE)
        K.set_field(s, K.T_CERTIFICATE,
                    encode(P.TAG_CV_CERTIFICATE, body + encode(P.TAG_CV_SIGNATURE, value)))
    else:  # scheme 4: pre-loaded transfer keys (Fig. 13)
        p = parse(value)
        K.add_preloaded(s, need_uint(p, P.TAG_TRANSFER_KEY_ID, 2),
                        need(p, P.TAG_TRANSFER_KEY, P.KEY_LEN))

def generate_key(applet, p1, data):
    """Schemes 2, 3, 5: the card makes its own P-256 key pair (card secret key 103A never
    leaves it) and answers the public key with a MAC, for the issuer to certify."""
    counter = applet.state.perso_counter
    _open_perso(applet, P.INS_GENERATE_KEY, data)
    s = applet.state
    from card.keys import T_SECRET_KEY, field, set_field
    from common.cvc import public_key
    from common.p256 import generate
    from common.perso import response_mac

    check(field(s, T_SECRET_KEY) is None, P.SW_WRONG_STATE)  # once: a certificate may name it
    secret, point = generate()
    set_field(s, T_SECRET_KEY, secret)
    applet.save()
    out = public_key(point)
    return out + encode(P.TAG_MAC, response_mac(s.perso_key, counter, out))

def lock(applet, p1, data):
    """Personalization -> active, for good: only a complete card may be locked."""
    _open_perso(applet, P.INS_LOCK, data)
    s = applet.state
    pki_only = s.scheme == P.SCHEME_PKI  # Fig. 6: no update key
    check(s.transfer_key and (s.update_key or pki_only) and s.validity and s.purses and s.scheme,
           P.SW_WRONG_STATE)
    check(0 < s.transfer_key_id <= s.transfer_key_limit, P.SW_WRONG_STATE)
    check(pki_only or 0 < s.update_key_id <= s.update_key_limit, P.SW_WRONG_STATE)
    if s.scheme != P.SCHEME_SYMMETRIC:
        from card.keys import complete

        check(complete(s), P.SW_WRONG_STATE)
    s.life_cycle = P.STATE_ACTIVE
    applet.save()
    return b""
