"""Settlement flows over real applets, with exchanges tampered with, replayed or cut in transit.

`FLOWS` holds (name, function(lab)) rows; each function drives `terminal.settlement.settle`
through `Wire` channels and asserts the step that failed, the balances, the pending records and
value conservation. Shared by tests/test_applet.py (CPython, in-process) and check_applet.py.
"""
from applet_cases import (
    AMOUNT,
    DATE,
    MONEY,
    POINTS,
    SELECT,
    Lab,  # noqa: F401 - re-exported for the runners
    build,
    card_id,
    cmd,
    conserved,
    flip,
    ok,
    restart,
    stored,
    summary,
    sw,
    u,
)
from cards import TRANSFER_KEYS

from common import proto as P
from common import transfer as T
from common.apdu import command
from common.tlv import encode, items
from terminal.cardlink import CardLink, SettlementError
from terminal.recovery import resolve_pending
from terminal.settlement import select, settle


class Wire:
    """A channel to one card that records every exchange and, at the first command `ins`,
    edits the command ("cmd") or the response ("resp") with `fn`, or fails the link before
    the card hears it ("cut") or after it answered ("lost")."""

    def __init__(self, card, ins=None, how=None, fn=None):
        self.card = card
        self.ins = ins
        self.how = how
        self.fn = fn
        self.hits = 0
        self.tape = []

    def transmit(self, apdu):
        apdu = bytes(apdu)
        hit = self.hits == 0 and self.ins is not None and apdu[1] == self.ins
        if hit:
            self.hits += 1
            if self.how == "cut":
                raise OSError(f"field lost before {self.ins:02X}")
            if self.how == "cmd":
                apdu = self.fn(apdu)
        resp = self.card.process(apdu)
        self.tape.append((apdu, resp))
        if hit and self.how == "lost":
            raise OSError(f"field lost after {self.ins:02X}")
        if hit and self.how == "resp":
            resp = self.fn(resp)
        return resp

    def sent(self, ins):
        return [a for a, _ in self.tape if a[1] == ins]


def _edited(data, tag, fn):
    return build([(t, bytes(v)) for t, v in items(data)], {tag: fn})


def in_cmd(tag, fn=flip):
    """Edit field `tag` of a command APDU's data."""
    def edit(apdu):
        return command(apdu[0], apdu[1], apdu[2], apdu[3], _edited(apdu[5 : 5 + apdu[4]], tag, fn))
    return edit


def in_resp(tag, fn=flip):
    """Edit field `tag` of a response APDU's data."""
    def edit(resp):
        return _edited(resp[:-2], tag, fn) + resp[-2:]
    return edit


def refused(run, step, want_sw):
    """`run()` must raise SettlementError at `step` with status `want_sw` (None: no card SW)."""
    try:
        run()
    except SettlementError as e:
        assert e.step == step and e.sw == want_sw, f"got {e} (sw {e.sw!r}), want {step} {want_sw!r}"
        return e
    raise AssertionError(f"settlement did not fail at {step}")


def money(card, purse=MONEY):
    return stored(card).purses[purse][0]


def held(card, purse=MONEY):
    """The card's balance plus an amount it set aside at S2001 for a permission not yet used:
    it comes back at the next recovery with that payee."""
    s = stored(card)
    rec = s.pending_out
    if rec is not None and T.is_partial(rec[: T.CONTEXT_LEN]) and rec[0] == purse:
        return s.purses[purse][0] + T.unpack(rec[: T.CONTEXT_LEN])[1]
    return s.purses[purse][0]


def recovered(x, y):
    """Recovery between two cards, no new transfer (what settle() runs first); the outcomes."""
    steps = []
    done = resolve_pending(select(CardLink(x, "A"), steps), select(CardLink(y, "B"), steps),
                           steps)
    idle(x, y)
    return [d["outcome"] for d in done]


def idle(*cards):
    for card in cards:
        s = stored(card)
        assert s.pending_out is None and s.pending_in is None, f"pending on card {s.card_id[-1]}"


def credits(card, amount):
    """How many times `card` logged a credit of `amount`: a transfer completes exactly once."""
    return len([e for e in stored(card).log
                if e[0] == P.LOG_IN and T.unpack(e[1 : 1 + T.CONTEXT_LEN])[1] == amount])


def outcomes(receipt):
    return [r["outcome"] for r in receipt["recovered"]]


FLOWS = []


def flow(name, fn):
    FLOWS.append((name, fn))


def _pair(lab, a_kw=None, b_kw=None):
    return lab.card(1, **(a_kw or {})), lab.card(2, **(b_kw or {}))


# -- the fast path ---------------------------------------------------------------------------

def _plain(lab):
    a, b = _pair(lab)
    r = settle(a, b, MONEY, AMOUNT, DATE)
    assert r["steps"] == ["S1001", "S1001", "S1003", "S2001", "S2002", "S2003", "S2004",
                          "S2005"], r["steps"]
    assert (r["payer_balance"], r["payee_balance"], r["key_roll"]) == (900, 1100, "none"), r
    assert (money(a), money(b), r["recovered"]) == (900, 1100, [])
    assert credits(b, AMOUNT) == 1 and stored(a).log[0][0] == P.LOG_OUT
    idle(a, b)


def _roll(lab):
    a, c = lab.card(1), lab.card(3, transfer_key_id=2)
    r = settle(c, a, MONEY, AMOUNT, DATE)
    assert r["key_roll"] == "update-key" and r["transfer_key_id"] == 2, r
    assert "S1005" in r["steps"] and "S1006" in r["steps"]
    assert stored(a).transfer_key == TRANSFER_KEYS[2]
    assert stored(a).transfer_key_of(1) == TRANSFER_KEYS[1]
    assert (money(c), money(a)) == (900, 1100)


def _points(lab):
    a, b = _pair(lab)
    r = settle(a, b, POINTS, 5, DATE)
    assert (r["payer_balance"], r["payee_balance"]) == (45, 55), r
    assert (money(a), money(b)) == (1000, 1000)
    settle(b, a, MONEY, 7, DATE)
    assert (money(a, POINTS), money(b, POINTS), money(a), money(b)) == (45, 55, 1007, 993)


def _restart(lab):
    a, c = lab.card(1), lab.card(3, transfer_key_id=2)
    settle(a, c, MONEY, AMOUNT, DATE)
    settle(c, a, POINTS, 5, DATE + 1)
    before = (summary(a.state), summary(c.state))
    a, c = restart(a), restart(c)
    assert (summary(a.state), summary(c.state)) == before
    assert a.state.transfer_key == TRANSFER_KEYS[2] and a.state.last_date == DATE + 1
    r = settle(a, c, MONEY, 1, DATE + 1)
    assert r["key_roll"] == "none" and r["payer_balance"] == 899, r


flow("transfer", _plain)
flow("transfer with a key roll", _roll)
flow("points move independently of money", _points)
flow("state survives a restart", _restart)

# -- forged MACs and fields in transit ------------------------------------------------------

# (what is altered, card, INS, where, tag, failing step, status, how the next settle ends: a
# payer's amount set aside at S2001 and never debited is "released" once its payee proves it
# holds no record of it, after "undone" when it did)
TAMPERS = (
    ("permission token in S2001 response", "a", P.INS_VALUE_TX_PERMISSION, "resp", P.TAG_MAC,
     "S2002", P.SW_SECURITY, ("released",)),
    ("permission token in S2002 command", "b", P.INS_VALUE_RX_PERMISSION, "cmd", P.TAG_MAC,
     "S2002", P.SW_SECURITY, ("released",)),
    ("tx random in S2001 response", "a", P.INS_VALUE_TX_PERMISSION, "resp", P.TAG_TX_RANDOM,
     "S2002", P.SW_SECURITY, ("released",)),
    ("amount in S2002 command", "b", P.INS_VALUE_RX_PERMISSION, "cmd", P.TAG_AMOUNT,
     "S2002", P.SW_SECURITY, ("released",)),
    ("payer counter in S2002 command", "b", P.INS_VALUE_RX_PERMISSION, "cmd",
     P.TAG_PEER_COUNTER, "S2002", P.SW_SECURITY, ("released",)),
    ("TC in S2002 response", "b", P.INS_VALUE_RX_PERMISSION, "resp", P.TAG_TX_CHALLENGE,
     "S2003", P.SW_SECURITY, ("undone", "released")),
    ("payee counter in S2002 response", "b", P.INS_VALUE_RX_PERMISSION, "resp", P.TAG_COUNTER,
     "S2003", P.SW_SECURITY, ("undone", "released")),
    ("TC in S2003 command", "a", P.INS_VALUE_TX, "cmd", P.TAG_TX_CHALLENGE,
     "S2003", P.SW_SECURITY, ("undone", "released")),
    ("rx random in S2003 command", "a", P.INS_VALUE_TX, "cmd", P.TAG_RX_RANDOM,
     "S2003", P.SW_SECURITY, ("undone", "released")),
    ("RC in S2003 response", "a", P.INS_VALUE_TX, "resp", P.TAG_RX_CHALLENGE,
     "S2004", P.SW_SECURITY, ("completed",)),
    ("RC in S2004 command", "b", P.INS_VALUE_RX, "cmd", P.TAG_RX_CHALLENGE,
     "S2004", P.SW_SECURITY, ("completed",)),
    ("rx random in S2004 command", "b", P.INS_VALUE_RX, "cmd", P.TAG_RX_RANDOM,
     "S2004", P.SW_NOT_FOUND, ("completed",)),
    ("credit proof in S2004 response", "b", P.INS_VALUE_RX, "resp", P.TAG_CREDIT_PROOF,
     "S2005", P.SW_SECURITY, ("completed",)),
    ("credit proof in S2005 command", "a", P.INS_VALUE_TX_CONFIRM, "cmd", P.TAG_CREDIT_PROOF,
     "S2005", P.SW_SECURITY, ("completed",)),
    ("tx random in S2005 command", "a", P.INS_VALUE_TX_CONFIRM, "cmd", P.TAG_TX_RANDOM,
     "S2005", P.SW_NOT_FOUND, ("completed",)),
)


def _after_failure(a, b, want, moved):
    """The next settlement (A pays B 30) finishes the failed transfer once, or undoes it."""
    assert conserved((a, b)) == 2000
    r = settle(a, b, MONEY, 30, DATE)
    assert outcomes(r) == list(want), r["recovered"]
    if want:
        got = r["recovered"][0]
        assert (got["amount"], got["payer"], got["payee"]) == (AMOUNT, card_id(1), card_id(2))
        assert r["steps"][2] == "RECOVER", r["steps"]
    x = AMOUNT if moved else 0
    assert (money(a), money(b)) == (1000 - x - 30, 1000 + x + 30), (money(a), money(b))
    assert credits(b, AMOUNT) == (1 if moved else 0)
    idle(a, b)
    assert conserved((a, b)) == 2000
    assert outcomes(settle(a, b, MONEY, 1, DATE)) == []


def _tamper(who, ins, how, tag, step, want, outcome):
    def run(lab):
        a, b = _pair(lab)
        edit = in_cmd(tag) if how == "cmd" else in_resp(tag)
        wire = Wire(a if who == "a" else b, ins, how, edit)
        if who == "a":
            refused(lambda: settle(wire, b, MONEY, AMOUNT, DATE), step, want)
        else:
            refused(lambda: settle(a, wire, MONEY, AMOUNT, DATE), step, want)
        assert wire.hits == 1
        _after_failure(a, b, outcome, "completed" in outcome)
    return run


for _t in TAMPERS:
    flow("forged " + _t[0], _tamper(*_t[1:]))

# -- exchanges lost: recovery completes or undoes each transfer exactly once -----------------

# (INS, "cut" before the card hears it / "lost" after it answered, step, outcome, value moved)
CUTS = (
    (P.INS_VALUE_RX_PERMISSION, "cut", "S2002", ("released",), False),
    (P.INS_VALUE_RX_PERMISSION, "lost", "S2002", ("undone", "released"), False),
    (P.INS_VALUE_TX, "cut", "S2003", ("undone", "released"), False),  # interrupted after S2002
    (P.INS_VALUE_TX, "lost", "S2003", ("completed",), True),
    (P.INS_VALUE_RX, "cut", "S2004", ("completed",), True),  # interrupted after S2003
    (P.INS_VALUE_RX, "lost", "S2004", ("completed",), True),
    (P.INS_VALUE_TX_CONFIRM, "cut", "S2005", ("completed",), True),
    (P.INS_VALUE_TX_CONFIRM, "lost", "S2005", (), True),
)


def _cut(ins, how, step, outcome, moved, swap):
    def run(lab):
        a, b = _pair(lab)
        payer_side = ins in (P.INS_VALUE_TX_PERMISSION, P.INS_VALUE_TX, P.INS_VALUE_TX_CONFIRM)
        wire = Wire(a if payer_side else b, ins, how)
        if payer_side:
            refused(lambda: settle(wire, b, MONEY, AMOUNT, DATE), step, None)
        else:
            refused(lambda: settle(a, wire, MONEY, AMOUNT, DATE), step, None)
        assert conserved((a, b)) == 2000
        if not swap:
            _after_failure(a, b, outcome, moved)
            return
        a, b = restart(a), restart(b)  # both cards lost power with the field
        r = settle(b, a, MONEY, 30, DATE)  # and meet again with the roles swapped
        assert outcomes(r) == list(outcome), r["recovered"]
        x = AMOUNT if moved else 0
        assert (money(a), money(b)) == (1000 - x + 30, 1000 + x - 30)
        assert credits(b, AMOUNT) == (1 if moved else 0)
        idle(a, b)
        assert conserved((a, b)) == 2000
    return run


for _c in CUTS:
    for _swap in (False, True):
        flow(f"{_c[1]} {_c[2]}" + (", restart, roles swapped" if _swap else ""),
             _cut(*(_c + (_swap,))))


def _stuck_until_peer(lab):
    """Interrupted after S2003, each card refuses third cards until the two meet again."""
    a, b = _pair(lab)
    refused(lambda: settle(a, Wire(b, P.INS_VALUE_RX, "cut"), MONEY, AMOUNT, DATE), "S2004", None)
    c = lab.card(3)
    refused(lambda: settle(a, c, MONEY, 5, DATE), "S2001", P.SW_PENDING)  # A's debit is pending
    refused(lambda: settle(c, b, MONEY, 5, DATE), "S2002", P.SW_PENDING)  # B's credit is pending
    r = settle(b, c, MONEY, 5, DATE)  # B can still pay: only its credit waits
    assert outcomes(r) == ["released"] and money(c) == 1005  # C's permission for B: unused
    assert conserved((a, b, c)) == 3000
    r = settle(b, a, MONEY, 5, DATE)
    assert outcomes(r) == ["completed"], r["recovered"]
    assert (money(a), money(b), money(c)) == (905, 1090, 1005)
    assert conserved((a, b, c)) == 3000
    idle(a, b, c)


def _undo_after_roll(lab):
    """A payer that rolled its transfer key on since still undoes with its previous key."""
    a, b = _pair(lab)
    refused(lambda: settle(Wire(a, P.INS_VALUE_TX, "cut"), b, MONEY, AMOUNT, DATE), "S2003", None)
    c = lab.card(3, transfer_key_id=2)
    # A's amount is set aside: it cannot pay C (the blocker's cost), but can be paid
    refused(lambda: settle(a, c, MONEY, 10, DATE), "S2001", P.SW_PENDING)  # after the roll
    assert stored(a).transfer_key_id == 2
    settle(c, a, MONEY, 10, DATE)
    r = settle(a, b, MONEY, 20, DATE)
    assert outcomes(r) == ["undone", "released"] and r["key_roll"] == "update-key", r
    assert (money(a), money(b), money(c)) == (990, 1020, 990)  # B rolled forward too
    idle(a, b, c)


def _undo_after_many_rolls(lab):
    """The payer keeps its last old transfer keys: after three rolls it still undoes."""
    a, b = _pair(lab)
    refused(lambda: settle(Wire(a, P.INS_VALUE_TX, "cut"), b, MONEY, AMOUNT, DATE), "S2003", None)
    for n, key_id in ((3, 2), (4, 3), (5, 4)):
        assert settle(lab.card(n, transfer_key_id=key_id), a, MONEY, 10, DATE)["key_roll"] \
            == "update-key"
    r = settle(a, b, MONEY, 20, DATE)
    assert outcomes(r) == ["undone", "released"] and r["transfer_key_id"] == 4, r
    assert (money(a), money(b)) == (1010, 1020)


flow("interrupted cards refuse third cards until they meet", _stuck_until_peer)
flow("undo after the payer's key rolled on", _undo_after_roll)
flow("undo after the payer's key rolled on three times", _undo_after_many_rolls)

# -- replays ------------------------------------------------------------------------------------


def _update_random_replay(lab):
    a, c = lab.card(1), lab.card(3, transfer_key_id=2)
    tape = Wire(a)
    assert settle(tape, c, MONEY, 10, DATE)["key_roll"] == "update-key"
    old = tape.sent(P.INS_KEY_UPDATE)[0]
    before = a.store.load()
    assert sw(a, old) == P.SW_WRONG_STATE  # S1102A: that update random was used up
    ok(a, SELECT)
    assert sw(a, old) == P.SW_SECURITY  # a fresh random: the recorded wrapped key cannot open
    assert a.store.load() == before
    a2 = lab.card(1)  # a twin of card 1 that still holds key ID 1
    replay = Wire(a2, P.INS_KEY_UPDATE, "cmd", lambda apdu: old)
    refused(lambda: settle(replay, c, MONEY, 10, DATE), "S1006", P.SW_SECURITY)
    assert stored(a2).transfer_key_id == 1 and money(a2) == 1000


def _challenge_replay(lab):
    a, b = _pair(lab)
    tape = Wire(a)
    settle(tape, b, MONEY, AMOUNT, DATE)
    old = tape.sent(P.INS_VALUE_TX)[0]
    replay = Wire(a, P.INS_VALUE_TX, "cmd", lambda apdu: old)
    refused(lambda: settle(replay, b, MONEY, AMOUNT, DATE), "S2003", P.SW_SECURITY)
    assert (held(a), money(b)) == (900, 1100)
    assert outcomes(settle(a, b, MONEY, 1, DATE)) == ["undone", "released"]
    assert (money(a), money(b)) == (899, 1101) and credits(b, AMOUNT) == 1


def _proof_replay(lab):
    """An old credit proof or RC, replayed into a later transfer, clears or credits nothing."""
    a, b = _pair(lab)
    tape_a, tape_b = Wire(a), Wire(b)
    settle(tape_a, tape_b, MONEY, AMOUNT, DATE)
    old_rx = tape_b.sent(P.INS_VALUE_RX)[0]
    old_confirm = tape_a.sent(P.INS_VALUE_TX_CONFIRM)[0]
    # B answers the old S2004 with the old transfer's proof (no second credit), which does not
    # clear A's new debit
    refused(lambda: settle(a, Wire(b, P.INS_VALUE_RX, "cmd", lambda apdu: old_rx), MONEY,
                           AMOUNT, DATE), "S2005", P.SW_SECURITY)
    assert money(b) == 1100 and stored(b).pending_in is not None
    assert sw(a, old_confirm) == P.SW_NOT_FOUND
    assert stored(a).pending_out is not None and money(a) == 800
    r = settle(a, b, MONEY, 1, DATE)
    assert outcomes(r) == ["completed"] and (money(a), money(b)) == (799, 1201)


flow("replayed update random", _update_random_replay)
flow("reused transmission challenge", _challenge_replay)
flow("replayed S2004 and S2005 of an earlier transfer", _proof_replay)

# -- key IDs ------------------------------------------------------------------------------------


def _key_rollback(lab):
    a, c = lab.card(1), lab.card(3, transfer_key_id=2)
    liar = Wire(c, P.INS_SELECT, "resp", in_resp(P.TAG_TRANSFER_KEY_ID, lambda v: u(0, 2)))
    refused(lambda: settle(a, liar, MONEY, 10, DATE), "S1006", P.SW_KEY_ID_REFUSED)
    s = stored(c)
    assert (s.transfer_key_id, s.transfer_key) == (2, TRANSFER_KEYS[2])
    assert (money(a), money(c)) == (1000, 1000)


def _key_limit(lab):
    a, c = lab.card(1, limit=1), lab.card(3, transfer_key_id=2)
    refused(lambda: settle(a, c, MONEY, 10, DATE), "S1006", P.SW_KEY_ID_REFUSED)
    assert stored(a).transfer_key_id == 1 and (money(a), money(c)) == (1000, 1000)


flow("key ID rollback", _key_rollback)
flow("key ID above its upper limit", _key_limit)

# -- dates, amounts, limits, cards ----------------------------------------------------------


def _expired(lab):
    a, c = lab.card(1, validity=DATE - 1), lab.card(3, transfer_key_id=2)
    e = refused(lambda: settle(a, c, MONEY, 10, DATE), "S1003", None)
    assert "expired" in e.reason and stored(a).transfer_key_id == 1  # checked before any roll
    refused(lambda: settle(c, a, MONEY, 10, DATE), "S1003", None)
    ok(a, SELECT)  # the card refuses too, whatever the terminal says
    assert sw(a, cmd(P.INS_VALUE_TX_PERMISSION, build(
        [(P.TAG_PURSE, b"\x01"), (P.TAG_AMOUNT, u(10, 4)), (P.TAG_DATE, u(DATE, 4)),
         (P.TAG_PEER_ID, card_id(3))]))) == P.SW_DATE_REFUSED
    settle(a, c, MONEY, 10, DATE - 1)  # its last valid day is still good
    assert (money(a), money(c)) == (990, 1010)


def _old_date(lab):
    """A terminal's date refuses nothing later (issue 9, finding 2): only the issuer's does."""
    a, b = _pair(lab)
    settle(a, b, MONEY, AMOUNT, DATE)
    settle(a, b, MONEY, 10, DATE - 1)
    c = lab.card(3, not_before=DATE)
    refused(lambda: settle(a, c, MONEY, 10, DATE - 1), "S2002", P.SW_DATE_REFUSED)
    refused(lambda: settle(c, b, MONEY, 10, DATE - 1), "S2001", P.SW_DATE_REFUSED)
    assert (held(a), money(b), money(c)) == (890, 1110, 1000)
    assert recovered(a, c) == ["released"] and money(a) == 890
    idle(a, b, c)


def _amounts(lab):
    a, b = _pair(lab)
    refused(lambda: settle(a, b, MONEY, 1001, DATE), "S2001", P.SW_VALUE_LIMIT)
    refused(lambda: settle(a, b, POINTS, 51, DATE), "S2001", P.SW_VALUE_LIMIT)
    for bad in (0, -5, 0x80000000):
        refused(lambda: settle(a, b, MONEY, bad, DATE), "S2001", None)  # noqa: B023
    for bad in (0, 0x80000000, 0xFFFFFFFF):  # the cards refuse what the terminal let through
        wire = Wire(a, P.INS_VALUE_TX_PERMISSION, "cmd", in_cmd(P.TAG_AMOUNT, u(bad, 4)))
        refused(lambda: settle(wire, b, MONEY, 5, DATE), "S2001", P.SW_WRONG_DATA)  # noqa: B023
        wire = Wire(b, P.INS_VALUE_RX_PERMISSION, "cmd", in_cmd(P.TAG_AMOUNT, u(bad, 4)))
        refused(lambda: settle(a, wire, MONEY, 5, DATE), "S2002", P.SW_WRONG_DATA)  # noqa: B023
    assert (held(a), money(b)) == (1000, 1000)
    assert recovered(a, b) == ["released"] and money(a) == 1000


def _above_maximum(lab):
    a, b = _pair(lab, b_kw={"max_balance": 1050})
    refused(lambda: settle(a, b, MONEY, AMOUNT, DATE), "S2002", P.SW_VALUE_LIMIT)
    assert (held(a), money(b)) == (1000, 1000)
    assert recovered(a, b) == ["released"]
    settle(a, b, MONEY, 50, DATE)
    assert money(b) == 1050


def _same_card(lab):
    a = lab.card(1)
    refused(lambda: settle(a, a, MONEY, 10, DATE), "S1002", None)
    refused(lambda: settle(a, restart(a), MONEY, 10, DATE), "S1002", None)
    refused(lambda: settle(a, lab.card(1), MONEY, 10, DATE), "S1002", None)  # a clone
    assert money(a) == 1000


def _malformed(lab):
    a, b = _pair(lab)
    truncated = Wire(a, P.INS_VALUE_TX, "cmd", lambda apdu: apdu[:-3])
    refused(lambda: settle(truncated, b, MONEY, AMOUNT, DATE), "S2003", P.SW_WRONG_LENGTH)
    lc = Wire(a, P.INS_VALUE_TX, "cmd", lambda apdu: apdu[:4] + bytes((apdu[4] - 1,)) + apdu[5:])
    refused(lambda: settle(lc, b, MONEY, AMOUNT, DATE), "S2003", P.SW_WRONG_LENGTH)
    tlv = Wire(b, P.INS_VALUE_RX_PERMISSION, "cmd",
               lambda apdu: command(apdu[0], apdu[1], 0, 0, apdu[5:-2]))
    refused(lambda: settle(a, tlv, MONEY, AMOUNT, DATE), "S2002", P.SW_WRONG_DATA)
    assert (held(a), money(b)) == (1000, 1000) and stored(b).pending_in is None
    header = Wire(b, P.INS_VALUE_RX, "cmd", lambda apdu: apdu[:3])
    refused(lambda: settle(a, header, MONEY, AMOUNT, DATE), "S2004", P.SW_WRONG_LENGTH)
    assert conserved((a, b)) == 2000
    assert outcomes(settle(a, b, MONEY, 1, DATE)) == ["completed"]
    assert (money(a), money(b)) == (899, 1101)


def _garbled_response(lab):
    a, b = _pair(lab)
    short = Wire(b, P.INS_SELECT, "resp", lambda resp: resp[:1])
    e = refused(lambda: settle(a, short, MONEY, 10, DATE), "S1001", None)
    assert "malformed response" in e.reason
    bad_tlv = Wire(a, P.INS_VALUE_TX_PERMISSION, "resp", lambda resp: b"\x88\x20" + resp[-2:])
    e = refused(lambda: settle(bad_tlv, b, MONEY, 10, DATE), "S2001", None)
    assert "malformed data" in e.reason
    assert (held(a), money(b)) == (1000, 1000)


def _not_personalized(lab):
    a = lab.card(1)
    card = lab.blank()
    refused(lambda: settle(a, card, MONEY, 10, DATE), "S1002", None)
    ok(card, SELECT)
    ok(card, cmd(P.INS_INITIALIZE, encode(P.TAG_CARD_ID, card_id(5)) + encode(P.TAG_PERSO_KEY,
                                                                               bytes(16))))
    refused(lambda: settle(card, a, MONEY, 10, DATE), "S1002", None)


flow("expired card", _expired)
flow("date before the last transaction, and before the issue date", _old_date)
flow("amounts: above balance, zero, negative", _amounts)
flow("payee balance above its maximum", _above_maximum)
flow("same card as payer and payee", _same_card)
flow("malformed APDUs", _malformed)
flow("malformed responses", _garbled_response)
flow("card not personalized", _not_personalized)
