"""The settlement program (seed Fig. 3 and Fig. 4): plain functions over two card links.

No I/O of its own: it talks to the cards only through `CardLink`s, which wrap any object with
`transmit(bytes) -> bytes` (a PN532 reader, a wired serial link, an applet in the same process).
Card A is the payer (read/write means 301A), card B the payee (301B).
"""
from common import proto as P
from common.tlv import encode, uint
from terminal.cardlink import CardLink, SettlementError

PURSES = {"money": P.PURSE_MONEY, "points": P.PURSE_POINTS}


def _int(fields, tag):
    return int.from_bytes(bytes(fields[tag]), "big")


class CardInfo:
    """What S1101A/B tells the terminal about one card."""

    def __init__(self, link, fields):
        self.link = link
        self.label = link.label
        self.fields = fields
        self.life_cycle = _int(fields, P.TAG_STATE)
        if self.life_cycle != P.STATE_ACTIVE:
            raise SettlementError("S1002", "card %s is not personalized" % self.label)
        self.card_id = bytes(fields[P.TAG_CARD_ID])
        self.transfer_key_id = _int(fields, P.TAG_TRANSFER_KEY_ID)
        self.update_key_id = _int(fields, P.TAG_UPDATE_KEY_ID)
        self.validity = _int(fields, P.TAG_VALIDITY)
        self.scheme = _int(fields, P.TAG_SCHEME)
        self.pending = _int(fields, P.TAG_PENDING)
        self.update_random = bytes(fields[P.TAG_UPDATE_RANDOM])


def select(link, steps):
    """S1001 + S1002: select the settlement service; the response carries the card information
    (S1101) and a fresh update random number (S1102A)."""
    steps.append("S1001")
    return CardInfo(link, link.select("S1001"))


def check_validity(card, date):
    """S1003 (first half): a card past its term of validity stops the flow."""
    if date > card.validity:
        raise SettlementError("S1003", "card %s expired on %s (transaction date %s)"
                              % (card.label, fmt_date(card.validity), fmt_date(date)))


def roll_transfer_key(older, newer, steps):
    """S1004-S1006: carry the newer card's transfer key to the older card under the shared
    update key, bound to the older card's update random number (already fetched at S1001)."""
    if older.update_key_id != newer.update_key_id:
        raise SettlementError("S1003", "cards %s and %s hold different update keys (%d, %d): "
                              "the update-key path cannot roll the transfer key"
                              % (older.label, newer.label, older.update_key_id,
                                 newer.update_key_id))
    steps.append("S1004")  # merged into the SELECT of the older card
    steps.append("S1005")
    got = newer.link.command("S1005", P.INS_KEY_OBTAIN,
                             encode(P.TAG_UPDATE_RANDOM, older.update_random)
                             + encode(P.TAG_PEER_ID, older.card_id))
    steps.append("S1006")
    older.link.command("S1006", P.INS_KEY_UPDATE,
                       encode(P.TAG_PEER_ID, newer.card_id)
                       + encode(P.TAG_TRANSFER_KEY_ID, got[P.TAG_TRANSFER_KEY_ID])
                       + encode(P.TAG_UPDATE_KEY_ID, got[P.TAG_UPDATE_KEY_ID])
                       + encode(P.TAG_WRAPPED_KEY, got[P.TAG_WRAPPED_KEY]))
    older.transfer_key_id = newer.transfer_key_id


def transfer_value(payer, payee, purse, amount, date, steps):
    """S2001-S2004, then the payer's pending record is cleared by the payee's credit proof."""
    terms = uint(P.TAG_PURSE, purse, 1) + uint(P.TAG_AMOUNT, amount, 4) + uint(P.TAG_DATE, date, 4)
    steps.append("S2001")
    r1 = payer.link.command("S2001", P.INS_VALUE_TX_PERMISSION,
                            terms + encode(P.TAG_PEER_ID, payee.card_id)
                            + encode(P.TAG_UPDATE_RANDOM, payee.update_random))
    steps.append("S2002")
    r2 = payee.link.command("S2002", P.INS_VALUE_RX_PERMISSION,
                            terms + encode(P.TAG_PEER_ID, payer.card_id)
                            + encode(P.TAG_TX_RANDOM, r1[P.TAG_TX_RANDOM])
                            + encode(P.TAG_PEER_COUNTER, r1[P.TAG_COUNTER])
                            + encode(P.TAG_MAC, r1[P.TAG_MAC]))
    steps.append("S2003")
    r3 = payer.link.command("S2003", P.INS_VALUE_TX,
                            encode(P.TAG_TX_CHALLENGE, r2[P.TAG_TX_CHALLENGE])
                            + encode(P.TAG_RX_RANDOM, r2[P.TAG_RX_RANDOM])
                            + encode(P.TAG_PEER_COUNTER, r2[P.TAG_COUNTER]))
    steps.append("S2004")
    r4 = payee.link.command("S2004", P.INS_VALUE_RX,
                            encode(P.TAG_RX_CHALLENGE, r3[P.TAG_RX_CHALLENGE])
                            + encode(P.TAG_RX_RANDOM, r2[P.TAG_RX_RANDOM]))
    steps.append("S2005")
    payer.link.command("S2005", P.INS_VALUE_TX_CONFIRM,
                       encode(P.TAG_CREDIT_PROOF, r4[P.TAG_CREDIT_PROOF])
                       + encode(P.TAG_TX_RANDOM, r1[P.TAG_TX_RANDOM]))
    return _int(r3, P.TAG_BALANCE), _int(r4, P.TAG_BALANCE)


def settle(channel_a, channel_b, purse, amount, date, trace=None, crl=None,
           ca_public_key=None):
    """Run the whole settlement: A pays `amount` of `purse` to B on `date` (YYYYMMDD).

    `crl`: a terminal.revocation.CrlHolder, or CRL bytes checked against `ca_public_key`;
    a card on it is refused (RevokedCard names it). Returns a receipt dict; raises
    SettlementError naming the failed step.
    """
    if not 0 < amount <= 0x7FFFFFFF:
        raise SettlementError("S2001", "amount must be a positive whole number")
    link_a = CardLink(channel_a, "A", trace)
    link_b = CardLink(channel_b, "B", trace)
    steps = []
    a = select(link_a, steps)
    b = select(link_b, steps)
    if a.card_id == b.card_id:
        raise SettlementError("S1002", "card A and card B are the same card")
    if crl is not None:
        from terminal.revocation import screen

        crl = screen(crl, ca_public_key, a, b)
    recovered = []
    if a.pending or b.pending:
        from terminal.recovery import resolve_pending  # only after an interruption

        recovered = resolve_pending(a, b, steps)
        if recovered:
            a = select(link_a, steps)
            b = select(link_b, steps)
    steps.append("S1003")
    check_validity(a, date)
    check_validity(b, date)
    key_roll = "none"
    if a.transfer_key_id != b.transfer_key_id:
        older, newer = (a, b) if a.transfer_key_id < b.transfer_key_id else (b, a)
        if older.scheme == newer.scheme == P.SCHEME_SYMMETRIC:
            roll_transfer_key(older, newer, steps)
            key_roll = "update-key"
        else:  # embodiments 2-5: terminal/keyroll.py, loaded only for these cards
            from terminal.keyroll import roll

            key_roll = roll(older, newer, date, steps, crl)
    balance_a, balance_b = transfer_value(a, b, purse, amount, date, steps)
    return {
        "amount": amount,
        "purse": purse,
        "date": date,
        "payer": a.card_id,
        "payee": b.card_id,
        "payer_balance": balance_a,
        "payee_balance": balance_b,
        "transfer_key_id": a.transfer_key_id,
        "key_roll": key_roll,
        "recovered": recovered,
        "steps": steps,
        "exchanges": link_a.exchanges + link_b.exchanges,
        "bytes_to_cards": link_a.bytes_out + link_b.bytes_out,
        "bytes_from_cards": link_a.bytes_in + link_b.bytes_in,
    }


def fmt_date(date):
    return "%04d-%02d-%02d" % (date // 10000, date // 100 % 100, date % 100)
