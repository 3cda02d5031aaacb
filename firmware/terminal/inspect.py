"""Reading a card's public state for a person: identity, key IDs, validity, balances, log."""
from common import proto as P
from common.tlv import items, parse


def _int(value):
    return int.from_bytes(bytes(value), "big")


def read_card(link):
    """SELECT, then GET BALANCE: a dict of what the card tells anyone who selects it."""
    info = link.select("S1001")
    card = {"state": _int(info[P.TAG_STATE])}
    if P.TAG_CARD_ID in info:
        card["card_id"] = bytes(info[P.TAG_CARD_ID])
    if card["state"] != P.STATE_ACTIVE:
        return card
    for name, tag in (("scheme", P.TAG_SCHEME), ("transfer_key_id", P.TAG_TRANSFER_KEY_ID),
                      ("update_key_id", P.TAG_UPDATE_KEY_ID), ("validity", P.TAG_VALIDITY),
                      ("pending", P.TAG_PENDING), ("last_date", P.TAG_LAST_DATE)):
        card[name] = _int(info[tag])
    purses = {}
    for tag, value in items(link.command("BALANCE", P.INS_GET_BALANCE, raw=True)):
        if tag == P.TAG_PURSE_RECORD:
            f = parse(value)
            purses[_int(f[P.TAG_PURSE])] = (_int(f[P.TAG_BALANCE]), _int(f[P.TAG_MAX_BALANCE]))
    card["purses"] = purses
    return card


def read_log(link):
    """The card's transaction log, oldest first: (direction, packed context, MAC) per entry."""
    link.select("S1001")
    entries = []
    while True:
        page = [bytes(v) for t, v in items(link.command("LOG", P.INS_GET_LOG, p1=len(entries),
                                                        raw=True))
                if t == P.TAG_LOG_ENTRY]
        if not page:
            return entries
        entries += [(e[0], e[1:66], e[66:]) for e in page]
