"""Card side of personalization: loaded only while a card is being personalized.

INITIALIZE once (blank card), then PERSONALIZE commands under the personalization secure
messaging (common.perso), then LOCK, after which none of these is ever accepted again.
"""
from micropython import const

from card.applet import Reject, check
from common import proto as P
from common.perso import FIELDS
from common.perso import open_ as open_perso
from common.tlv import items, need, need_uint, parse

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
        else:
            raise Reject(P.SW_WRONG_DATA)
    applet.save()
    return b""

def lock(applet, p1, data):
    """Personalization -> active, for good: only a complete card may be locked."""
    _open_perso(applet, P.INS_LOCK, data)
    s = applet.state
    check(s.transfer_key and s.update_key and s.validity and s.purses and s.scheme,
           P.SW_WRONG_STATE)
    check(0 < s.transfer_key_id <= s.transfer_key_limit, P.SW_WRONG_STATE)
    check(0 < s.update_key_id <= s.update_key_limit, P.SW_WRONG_STATE)
    s.life_cycle = P.STATE_ACTIVE
    applet.save()
    return b""
