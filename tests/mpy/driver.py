"""A terminal driven one command at a time, for tests that send what they like in between.

`Run(lab, payer, payee, ...)` builds each step's command as an honest terminal would, from the
cards' answers so far (`honest`), keeps what it sent (`sent`) for replays, and lets a test edit
any field (`apdu(step, {tag: new})`). `lab` needs `cards` ({n: card with `.id`}) and
`transmit(n, apdu) -> response`.
"""
from common import proto as P
from common import transfer as T
from common.apdu import command
from common.tlv import encode, items

AMOUNT = 100
DATE = 20260315
MONEY = P.PURSE_MONEY
SELECT = command(P.CLA_ISO, P.INS_SELECT, 4, 0, P.AID)


def u(n, size):
    return n.to_bytes(size, "big")


def flip(value):
    value = bytes(value)
    return value[:-1] + bytes((value[-1] ^ 1,))


def sw_of(resp):
    return (resp[-2] << 8) | resp[-1]


def fields(resp):
    assert sw_of(resp) == P.SW_OK, hex(sw_of(resp))
    return {tag: bytes(v) for tag, v in items(resp[:-2])}


def select_card(lab, n):
    """SELECT card `n`; its random (the nonce S2001 binds, section 7) kept in `lab.nonces`."""
    resp = lab.transmit(n, SELECT)
    if sw_of(resp) == P.SW_OK:
        got = {tag: bytes(v) for tag, v in items(resp[:-2])}
        if P.TAG_UPDATE_RANDOM in got:
            if not hasattr(lab, "nonces"):
                lab.nonces = {}
            lab.nonces[n] = got[P.TAG_UPDATE_RANDOM]
    return resp


def cmd(ins, pairs, p1=0):
    return command(P.CLA_PROPRIETARY, ins, p1, 0, b"".join(encode(t, v) for t, v in pairs))


def edit(pairs, changes):
    """`pairs` with values replaced (a function of the old value, or bytes) or dropped (None)."""
    out = []
    for tag, value in pairs:
        if tag in changes:
            new = changes[tag]
            if new is None:
                continue
            value = new(value) if callable(new) else new
        out.append((tag, value))
    return out


INS = {"S2001": P.INS_VALUE_TX_PERMISSION, "S2002": P.INS_VALUE_RX_PERMISSION,
       "S2003": P.INS_VALUE_TX, "S2004": P.INS_VALUE_RX, "S2005": P.INS_VALUE_TX_CONFIRM}
STEPS = ("S2001", "S2002", "S2003", "S2004", "S2005")


class Run:
    """One transfer driven command by command; keeps each step's command for replays."""

    def __init__(self, lab, payer=1, payee=2, amount=AMOUNT, date=DATE, purse=MONEY):
        self.lab = lab
        self.payer = payer
        self.payee = payee
        self.terms = [(P.TAG_PURSE, u(purse, 1)), (P.TAG_AMOUNT, u(amount, 4)),
                      (P.TAG_DATE, u(date, 4))]
        self.sent = {}  # step -> [(tag, value)] of the command the card answered
        self.got = {}  # step -> response fields

    def honest(self, step):
        """The fields an honest terminal sends at `step`, from the answers so far."""
        g = self.got
        cards = self.lab.cards
        if step == "S2001":
            nonce = getattr(self.lab, "nonces", {}).get(self.payee, bytes(16))
            return self.terms + [(P.TAG_PEER_ID, cards[self.payee].id),
                                 (P.TAG_UPDATE_RANDOM, nonce)]
        if step == "S2002":
            return self.terms + [
                (P.TAG_PEER_ID, cards[self.payer].id),
                (P.TAG_TX_RANDOM, g["S2001"][P.TAG_TX_RANDOM]),
                (P.TAG_PEER_COUNTER, g["S2001"][P.TAG_COUNTER]),
                (P.TAG_MAC, g["S2001"][P.TAG_MAC])]
        if step == "S2003":
            return [(P.TAG_TX_CHALLENGE, g["S2002"][P.TAG_TX_CHALLENGE]),
                    (P.TAG_RX_RANDOM, g["S2002"][P.TAG_RX_RANDOM]),
                    (P.TAG_PEER_COUNTER, g["S2002"][P.TAG_COUNTER])]
        if step == "S2004":
            return [(P.TAG_RX_CHALLENGE, g["S2003"][P.TAG_RX_CHALLENGE]),
                    (P.TAG_RX_RANDOM, g["S2002"][P.TAG_RX_RANDOM])]
        return [(P.TAG_CREDIT_PROOF, g["S2004"][P.TAG_CREDIT_PROOF]),
                (P.TAG_TX_RANDOM, g["S2001"][P.TAG_TX_RANDOM])]

    def apdu(self, step, changes=None):
        """The command of `step` as sent (a replay), or as it would be sent next; edited."""
        pairs = self.sent.get(step) or self.honest(step)
        return cmd(INS[step], edit(pairs, changes or {}))

    def made_up_offer(self):
        """S2001 answers no payer card gave: for asking a payee directly."""
        self.got["S2001"] = {P.TAG_TX_RANDOM: bytes(16), P.TAG_COUNTER: u(0, 4),
                             P.TAG_MAC: bytes(16)}
        return self

    def card(self, step):
        return self.payer if step in ("S2001", "S2003", "S2005") else self.payee

    def step(self, step):
        """Run `step`, which must succeed."""
        resp = self.try_step(step)
        assert sw_of(resp) == P.SW_OK, (step, hex(sw_of(resp)))
        return self

    def try_step(self, step):
        """Send `step`'s honest command; keep the answer when the card accepts it."""
        self.sent[step] = self.honest(step)
        resp = self.lab.transmit(self.card(step), self.apdu(step))
        if sw_of(resp) == P.SW_OK:
            self.got[step] = fields(resp)
        return resp

    def upto(self, last, select=True):
        if select:
            for n in (self.payer, self.payee):
                assert sw_of(select_card(self.lab, n)) == P.SW_OK
        for s in STEPS:
            self.step(s)
            if s == last:
                break
        return self

    def context_partial(self):
        """The context as the payer knows it after S2001."""
        g = self.got
        number = [int.from_bytes(v, "big") for _, v in self.terms]
        return T.pack(number[0], number[1], number[2], self.lab.cards[self.payer].id,
                      self.lab.cards[self.payee].id,
                      int.from_bytes(g["S2001"][P.TAG_COUNTER], "big"), 0,
                      g["S2001"][P.TAG_TX_RANDOM], bytes(16))

    def context(self):
        g = self.got
        number = [int.from_bytes(v, "big") for _, v in self.terms]
        return T.pack(number[0], number[1], number[2], self.lab.cards[self.payer].id,
                      self.lab.cards[self.payee].id,
                      int.from_bytes(g["S2001"][P.TAG_COUNTER], "big"),
                      int.from_bytes(g["S2002"][P.TAG_COUNTER], "big"),
                      g["S2001"][P.TAG_TX_RANDOM], g["S2002"][P.TAG_RX_RANDOM])
