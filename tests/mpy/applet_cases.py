"""The card applet's command table, one copy for both interpreters.

`CASES` holds one row per command case: (name, setup, apdu, sw, change, check). `setup(lab)`
builds cards and returns a context dict whose "card" is the card under test; `apdu(ctx)` is the
command; `change` maps `summary()` keys to their new values (None or {}: the stored record must
stay byte-identical); `check(ctx, fields)` looks at a successful response. A refused command
must also answer no data and leave a card that still works: it re-selects, and pays a fresh
card when it can.

tests/test_applet.py runs every row in-process on CPython; check_applet.py replays the table
(and the settlement flows of applet_flows.py) on MicroPython.
"""
import os

from cards import ISSUER_PERSO_KEY, TRANSFER_KEYS, UPDATE_KEY, card_id, profile, value_held

from card.applet import Applet
from card.state import CardState
from card.store import Store
from common import perso
from common import proto as P
from common import transfer as T
from common.apdu import command
from common.keyroll import open_ as open_wrapped
from common.tlv import encode, items, parse
from terminal.journal import partial as journal_partial
from terminal.settlement import settle

DATE = 20260315
AMOUNT = 100
MONEY = P.PURSE_MONEY
POINTS = P.PURSE_POINTS
VALIDITY = 20301231
PEER = 9  # the fresh card a refused card must still be able to pay
SELECT = command(P.CLA_ISO, P.INS_SELECT, 4, 0, P.AID)
_RECORDS = {}  # personalized records, reused across labs: personalizing is the slow part


def u(n, size):
    return n.to_bytes(size, "big")


def flip(value):
    """The value with its last bit changed: a MAC or field altered in transit."""
    value = bytes(value)
    return value[:-1] + bytes((value[-1] ^ 1,))


def perso_key(n):
    return perso.diversify(ISSUER_PERSO_KEY, card_id(n))


def sw_of(resp):
    return (resp[-2] << 8) | resp[-1]


def fields_of(resp):
    return {tag: bytes(v) for tag, v in items(resp[:-2])}


def ok(card, apdu):
    """Send one command that must succeed; its response fields."""
    resp = card.process(apdu)
    if sw_of(resp) != P.SW_OK:
        raise AssertionError(f"{card_name(card)} refused {bytes(apdu).hex()}: {sw_of(resp):04X}")
    return fields_of(resp)


def sw(card, apdu):
    return sw_of(card.process(apdu))


def card_name(card):
    cid = card.state.card_id
    return f"card {cid[-1]}" if cid else "blank card"


def cmd(ins, data=b"", p1=0, p2=0, cla=P.CLA_PROPRIETARY):
    return command(cla, ins, p1, p2, data)


def build(pairs, changes=None):
    """TLVs from (tag, value) pairs; `changes` maps a tag to a new value, to a function of the
    old value, or to None (drop it); tags not in `pairs` are appended."""
    changes = changes or {}
    out = b""
    seen = []
    for tag, value in pairs:
        seen.append(tag)
        if tag in changes:
            new = changes[tag]
            if new is None:
                continue
            value = new(value) if callable(new) else new
        out += encode(tag, value)
    for tag, new in changes.items():
        if tag not in seen and new is not None:
            out += encode(tag, new)
    return out


def stored(card):
    record = card.store.load()
    return CardState.decode(record) if record else CardState()


def summary(state):
    """A flat dict of everything a test may expect to change."""
    out = {}
    for name in ("life_cycle", "perso_counter", "scheme", "validity", "transfer_key_id",
                 "transfer_key_limit", "update_key_id",
                 "update_key_limit", "counter", "last_date", "not_before", "card_id", "perso_key",
                 "transfer_key", "old_transfer_keys", "update_key"):
        out[name] = getattr(state, name)
    out["pending_out"] = state.pending_out is not None
    out["pending_in"] = state.pending_in is not None
    out["log"] = len(state.log)
    for purse, (balance, maximum) in state.purses.items():
        name = {MONEY: "money", POINTS: "points"}.get(purse, f"purse{purse}")
        out[name] = balance
        out[name + "_max"] = maximum
    return out


def diff(want, got):
    keys = sorted(set(want) | set(got))
    return ", ".join(f"{k}: want {want.get(k)!r} got {got.get(k)!r}" for k in keys
                     if want.get(k) != got.get(k))


def conserved(cards, purse=MONEY):
    """Value held by `cards`, as stored (cards.value_held)."""
    return value_held([stored(card) for card in cards], purse)


class Lab:
    """Cards on stores in fresh folders under `root`."""

    def __init__(self, root):
        self.root = root
        self.made = 0
        try:
            os.mkdir(root)
        except OSError:
            pass

    def _store(self):
        self.made += 1
        return Store(f"{self.root}/c{self.made}")

    def blank(self):
        return Applet(self._store())

    def card(self, n, **kw):
        """A personalized, locked card number `n` (not yet selected); kw: cards.profile()."""
        key = (n,) + tuple(sorted(kw.items()))
        store = self._store()
        record = _RECORDS.get(key)
        if record is None:
            applet = Applet(store)
            for apdu in perso.commands(card_id(n), perso_key(n), profile(**kw)):
                ok(applet, apdu)
            _RECORDS[key] = store.load()
        else:
            store.save(record)
        return Applet(store)


def restart(card):
    """Power cycle: a new applet on the same store."""
    return Applet(card.store)


# -- command builders: each returns a function of the context -------------------------------

def _terms(ctx):
    purse, amount, date = ctx["terms"]
    return [(P.TAG_PURSE, u(purse, 1)), (P.TAG_AMOUNT, u(amount, 4)), (P.TAG_DATE, u(date, 4))]


def _s2001(ctx):
    return _terms(ctx) + [(P.TAG_PEER_ID, ctx["b"].state.card_id),
                          (P.TAG_UPDATE_RANDOM, ctx["ib"][P.TAG_UPDATE_RANDOM])]


def _s2002(ctx):
    r1 = ctx["r1"]
    return _terms(ctx) + [(P.TAG_PEER_ID, ctx["a"].state.card_id),
                          (P.TAG_TX_RANDOM, r1[P.TAG_TX_RANDOM]),
                          (P.TAG_PEER_COUNTER, r1[P.TAG_COUNTER]), (P.TAG_MAC, r1[P.TAG_MAC])]


def _s2003(ctx):
    r2 = ctx["r2"]
    return [(P.TAG_TX_CHALLENGE, r2[P.TAG_TX_CHALLENGE]), (P.TAG_RX_RANDOM, r2[P.TAG_RX_RANDOM]),
            (P.TAG_PEER_COUNTER, r2[P.TAG_COUNTER])]


def _s2004(ctx):
    return [(P.TAG_RX_CHALLENGE, ctx["r3"][P.TAG_RX_CHALLENGE]),
            (P.TAG_RX_RANDOM, ctx["r2"][P.TAG_RX_RANDOM])]


def _s2005(ctx):
    return [(P.TAG_CREDIT_PROOF, ctx["r4"][P.TAG_CREDIT_PROOF]),
            (P.TAG_TX_RANDOM, ctx["r1"][P.TAG_TX_RANDOM])]


def _resolve(ctx):
    pin = ctx["pin"]
    return [(P.TAG_CONTEXT, pin[P.TAG_CONTEXT]),
            (P.TAG_TRANSFER_KEY_ID, pin[P.TAG_TRANSFER_KEY_ID])]


def _abort(ctx):
    return [(P.TAG_ABORT_PROOF, ctx.get("ap", bytes(16))),
            (P.TAG_RX_RANDOM, ctx["r2"][P.TAG_RX_RANDOM])]


def _key_obtain(ctx):
    return [(P.TAG_UPDATE_RANDOM, ctx["ia"][P.TAG_UPDATE_RANDOM]),
            (P.TAG_PEER_ID, ctx["a"].state.card_id)]


def _key_update(ctx):
    ko = ctx["ko"]
    return [(P.TAG_PEER_ID, ko[P.TAG_CARD_ID]), (P.TAG_TRANSFER_KEY_ID, ko[P.TAG_TRANSFER_KEY_ID]),
            (P.TAG_UPDATE_KEY_ID, ko[P.TAG_UPDATE_KEY_ID]),
            (P.TAG_WRAPPED_KEY, ko[P.TAG_WRAPPED_KEY])]


_PAIRS = {
    P.INS_VALUE_TX_PERMISSION: _s2001, P.INS_VALUE_RX_PERMISSION: _s2002,
    P.INS_VALUE_TX: _s2003, P.INS_VALUE_RX: _s2004, P.INS_VALUE_TX_CONFIRM: _s2005,
    P.INS_PENDING_RESOLVE: _resolve, P.INS_VALUE_RX_ABORT: _abort,
    P.INS_KEY_OBTAIN: _key_obtain, P.INS_KEY_UPDATE: _key_update,
}


def mk(ins, changes=None):
    """The command `ins` built from the context, with `changes` to its fields (see build)."""
    return lambda ctx: cmd(ins, build(_PAIRS[ins](ctx), changes))


def altered(apdu_fn, at, keep):
    """The data of `apdu_fn`'s command with byte `at` flipped (keep == 16) or, for keep == 1,
    its last byte dropped."""
    def apdu(ctx):
        a = apdu_fn(ctx)
        data = bytearray(a[5:-1])
        if keep == 1:
            data = data[:-1]
        else:
            data[at] ^= 1
        return cmd(a[1], bytes(data))
    return apdu


def raw(apdu):
    return lambda ctx: apdu


def sealed(ins, plaintext, key=None, counter=None, header_ins=None):
    """A secured personalization command for the card under test (its own counter by default)."""
    def apdu(ctx):
        k = key if key is not None else perso_key(1)
        n = counter if counter is not None else ctx["card"].state.perso_counter
        header = bytes((P.CLA_PROPRIETARY, header_ins or ins, 0, 0))
        return cmd(ins, perso.seal(k, n, header, plaintext))
    return apdu


def perso_parts(**kw):
    """The PERSONALIZE plaintext of a complete profile, one TLV per item, purses last."""
    prof = profile(**kw)
    out = []
    for tag, (name, size) in perso.FIELDS.items():
        value = prof[name]
        out.append(encode(tag, value if size == P.KEY_LEN else u(value, size)))
    for purse, (balance, maximum) in prof["purses"].items():
        out.append(purse_record(purse, balance, maximum))
    return out


def perso_fields(**kw):
    return b"".join(perso_parts(**kw))


def purse_record(purse, balance, maximum):
    return encode(P.TAG_PURSE_RECORD, encode(P.TAG_PURSE, u(purse, 1))
                  + encode(P.TAG_BALANCE, u(balance, 4)) + encode(P.TAG_MAX_BALANCE, u(maximum, 4)))


# -- setups ---------------------------------------------------------------------------------

STEP_INS = (None, P.INS_VALUE_TX_PERMISSION, P.INS_VALUE_RX_PERMISSION, P.INS_VALUE_TX,
            P.INS_VALUE_RX, P.INS_VALUE_TX_CONFIRM)


def run_steps(ctx, upto, first=1):
    """Run S200<first>..S200<upto> of the transfer in ctx["terms"] from ctx["a"] to ctx["b"]."""
    for step in range(first, upto + 1):
        payer_side = step in (1, 3, 5)
        card = ctx["a"] if payer_side else ctx["b"]
        ctx[f"r{step}"] = ok(card, mk(STEP_INS[step])(ctx))
        if step == 2:
            ctx["pin"] = parse_pending(ok(ctx["b"], cmd(P.INS_GET_PENDING)))[1]
    return ctx


def parse_pending(fields):
    out = fields.get(P.TAG_PENDING_OUT)
    inn = fields.get(P.TAG_PENDING_IN)
    return (fields_of(out + b"\x90\x00") if out is not None else None,
            fields_of(inn + b"\x90\x00") if inn is not None else None)


def pair(lab, a_kw=None, b_kw=None, terms=(MONEY, AMOUNT, DATE)):
    """Cards 1 (payer A) and 2 (payee B), same transfer key, both selected."""
    a = lab.card(1, **(a_kw or {}))
    b = lab.card(2, **(b_kw or {}))
    return {"a": a, "b": b, "card": a, "ia": ok(a, SELECT), "ib": ok(b, SELECT), "terms": terms}


def upto(step, who="a", terms=(MONEY, AMOUNT, DATE), a_kw=None, b_kw=None):
    """Setup: A pays B, run through S200<step>; `who` is the card under test."""
    def setup(lab):
        ctx = run_steps(pair(lab, a_kw, b_kw, terms), step)
        ctx["card"] = ctx[who]
        return ctx
    return setup


def then(setup, *actions):
    """A setup followed by actions f(ctx, lab), each free to change the context."""
    def run(lab):
        ctx = setup(lab)
        for action in actions:
            action(ctx, lab)
        return ctx
    return run


def on(who):
    def action(ctx, lab):
        ctx["card"] = ctx[who]
    return action


def send(who, apdu_fn, want=P.SW_OK):
    """Action: send a command to ctx[who] and require status `want`."""
    def action(ctx, lab):
        resp = ctx[who].process(apdu_fn(ctx))
        assert sw_of(resp) == want, f"setup got {sw_of(resp):04X}"
    return action


def reselect(who):
    def action(ctx, lab):
        ctx["i" + who] = ok(ctx[who], SELECT)
    return action


def reboot(who):
    def action(ctx, lab):
        old = ctx[who]
        ctx[who] = restart(old)
        if ctx["card"] is old:
            ctx["card"] = ctx[who]
        ctx["i" + who] = ok(ctx[who], SELECT)
    return action


def roll_a(ctx, lab):
    """Action: card A takes transfer key ID 2 from a card 3 (S1005, S1006)."""
    c = lab.card(3, transfer_key_id=2)
    ok(c, SELECT)
    ctx["ia"] = ok(ctx["a"], SELECT)
    ko = ok(c, mk(P.INS_KEY_OBTAIN)(ctx))
    ctx["ko"] = ko
    ok(ctx["a"], mk(P.INS_KEY_UPDATE)(ctx))
    assert stored(ctx["a"]).transfer_key_id == 2


def abort_proof(ctx, lab):
    ctx["ap"] = ok(ctx["a"], mk(P.INS_PENDING_RESOLVE)(ctx))[P.TAG_ABORT_PROOF]


def steps(upto_step, first=1):
    def action(ctx, lab):
        run_steps(ctx, upto_step, first)
    return action


def third_pays(who, amount, date, n=3):
    """Action: a fresh card n pays ctx[who] through all five steps, without re-selecting it."""
    def action(ctx, lab):
        c = lab.card(n)
        ok(c, SELECT)
        side = {"a": c, "b": ctx[who], "ib": ctx["i" + who], "terms": (MONEY, amount, date)}
        run_steps(side, 5)
    return action


def card_only(n=1, selected=True, **kw):
    def setup(lab):
        card = lab.card(n, **kw)
        ctx = {"card": card, "a": card}
        if selected:
            ctx["ia"] = ok(card, SELECT)
        return ctx
    return setup


def blank(selected=True):
    def setup(lab):
        card = lab.blank()
        if selected:
            ok(card, SELECT)
        return {"card": card}
    return setup


def initialized(lab):
    ctx = blank()(lab)
    ok(ctx["card"], cmd(P.INS_INITIALIZE, encode(P.TAG_CARD_ID, card_id(1))
                        + encode(P.TAG_PERSO_KEY, perso_key(1))))
    return ctx


def loaded(**kw):
    """Setup: a card in personalization with a complete profile loaded, not locked."""
    def setup(lab):
        ctx = initialized(lab)
        ok(ctx["card"], sealed(P.INS_PERSONALIZE, perso_fields(**kw))(ctx))
        return ctx
    return setup


def keyroll(a_kw=None, obtained=True):
    """Setup: card 1 (A, to be updated) and card 3 (C, transfer key ID 2) selected; C has
    wrapped its transfer key for A's update random number (S1005) unless `obtained` is False."""
    def setup(lab):
        a = lab.card(1, **(a_kw or {}))
        c = lab.card(3, transfer_key_id=2)
        ctx = {"a": a, "c": c, "card": a, "ia": ok(a, SELECT), "ic": ok(c, SELECT)}
        if obtained:
            ctx["ko"] = ok(c, mk(P.INS_KEY_OBTAIN)(ctx))
        else:
            ctx["card"] = c
        return ctx
    return setup


# -- response checks -------------------------------------------------------------------------

def equals(want):
    def check(ctx, f):
        assert f == want, f
    return check


def fresh_random(ctx, f):
    assert len(f[P.TAG_UPDATE_RANDOM]) == P.RANDOM_LEN
    assert f[P.TAG_UPDATE_RANDOM] != ctx["ia"][P.TAG_UPDATE_RANDOM], "update random repeats"


def has(*tags):
    def check(ctx, f):
        for tag in tags:
            assert tag in f, f"missing tag {tag:02X}"
    return check


def check_select_active(ctx, f):
    assert f[P.TAG_STATE] == b"\x02" and f[P.TAG_CARD_ID] == card_id(1)
    assert f[P.TAG_TRANSFER_KEY_ID] == u(1, 2) and f[P.TAG_UPDATE_KEY_ID] == u(1, 2)
    assert f[P.TAG_VALIDITY] == u(VALIDITY, 4) and f[P.TAG_PENDING] == b"\x00"
    assert f[P.TAG_SCHEME] == bytes((P.SCHEME_SYMMETRIC,))
    assert len(f[P.TAG_UPDATE_RANDOM]) == P.RANDOM_LEN
    again = ok(ctx["card"], SELECT)[P.TAG_UPDATE_RANDOM]
    assert again != f[P.TAG_UPDATE_RANDOM], "update random repeats"


def pending_flag(value):
    def check(ctx, f):
        assert f[P.TAG_PENDING] == bytes((value,)), f[P.TAG_PENDING]
    return check


def check_s2001(ctx, f):
    """The permission token is a CMAC under the transfer key over the partial context."""
    purse, amount, date = ctx["terms"]
    assert f[P.TAG_COUNTER] == u(0, 4)
    partial = T.pack(purse, amount, date, card_id(1), card_id(2), 0, 0, f[P.TAG_TX_RANDOM],
                     bytes(16))
    assert T.check(TRANSFER_KEYS[1], T.TX_PERMISSION, f[P.TAG_MAC],
                   partial + ctx["ib"][P.TAG_UPDATE_RANDOM])


def check_s2002(ctx, f):
    assert len(f[P.TAG_RX_RANDOM]) == 16 and len(f[P.TAG_TX_CHALLENGE]) == 16
    assert f[P.TAG_COUNTER] == u(0, 4)


def check_s2003(ctx, f):
    assert f[P.TAG_BALANCE] == u(900, 4) and len(f[P.TAG_RX_CHALLENGE]) == 16


def check_s2004(ctx, f):
    assert f[P.TAG_BALANCE] == u(1100, 4) and len(f[P.TAG_CREDIT_PROOF]) == 16


def same_proof(ctx, f):
    assert f == ctx["r4"], "a repeated S2004 must repeat the proof, not credit again"


def no_more_debit(ctx, f):
    """After an abort proof the payer must never debit that transfer (S2003 refused)."""
    assert P.TAG_ABORT_PROOF in f and P.TAG_RX_CHALLENGE not in f
    assert sw(ctx["a"], mk(P.INS_VALUE_TX)(ctx)) == P.SW_WRONG_STATE
    abort_opens(ctx, f)
    assert stored(ctx["a"]).purses[MONEY][0] == 900  # set aside until the payee releases it
    ok(ctx["b"], SELECT)
    partial = journal_partial(ctx["pin"][P.TAG_CONTEXT])
    proof = ok(ctx["b"], cmd(P.INS_PENDING_RESOLVE, build([
        (P.TAG_CONTEXT, partial), (P.TAG_TRANSFER_KEY_ID, u(1, 2))])))[P.TAG_ABORT_PROOF]
    ok(ctx["a"], cmd(P.INS_VALUE_TX_CONFIRM, build([
        (P.TAG_ABORT_PROOF, proof), (P.TAG_TX_RANDOM, ctx["r1"][P.TAG_TX_RANDOM])])))
    assert stored(ctx["a"]).purses[MONEY][0] == 1000 and stored(ctx["a"]).pending_out is None


def abort_opens(ctx, f):
    """The payee accepts the abort proof (made here with the payer's previous transfer key)."""
    assert ok(ctx["b"], cmd(P.INS_VALUE_RX_ABORT, build(
        [(P.TAG_ABORT_PROOF, f[P.TAG_ABORT_PROOF]),
         (P.TAG_RX_RANDOM, ctx["r2"][P.TAG_RX_RANDOM])]))) == {}
    assert stored(ctx["b"]).pending_in is None


def reception_is(ctx, f):
    assert f == {P.TAG_RX_CHALLENGE: ctx["r3"][P.TAG_RX_CHALLENGE]}, f


def pending_out_record(ctx, f):
    out, inn = parse_pending(f)
    assert inn is None and out[P.TAG_RX_CHALLENGE] == ctx["r3"][P.TAG_RX_CHALLENGE]
    c = T.unpack(out[P.TAG_CONTEXT])
    assert c[:5] == (MONEY, AMOUNT, DATE, card_id(1), card_id(2)), c


def pending_in_record(ctx, f):
    out, inn = parse_pending(f)
    assert out is None and inn[P.TAG_TRANSFER_KEY_ID] == u(1, 2)
    assert T.unpack(inn[P.TAG_CONTEXT])[8] == ctx["r2"][P.TAG_RX_RANDOM]


def balances(*expect):
    def check(ctx, f):
        got = []
        for tag, value in items(ctx["resp"][:-2]):
            assert tag == P.TAG_PURSE_RECORD
            r = parse(value)
            got.append((r[P.TAG_PURSE][0], int.from_bytes(bytes(r[P.TAG_BALANCE]), "big"),
                        int.from_bytes(bytes(r[P.TAG_MAX_BALANCE]), "big")))
        assert tuple(got) == expect, got
    return check


def log_entries(n, direction=None):
    def check(ctx, f):
        resp = ctx["resp"]
        entries = [bytes(v) for tag, v in items(resp[:-2]) if tag == P.TAG_LOG_ENTRY]
        assert len(entries) == n, entries
        for e in entries:
            assert len(e) == 1 + T.CONTEXT_LEN + P.MAC_LEN
            assert direction is None or e[0] == direction
    return check


def check_key_obtain(ctx, f):
    """The wrapped key opens, with the shared update key, to card 3's transfer key."""
    assert f[P.TAG_CARD_ID] == card_id(3) and f[P.TAG_TRANSFER_KEY_ID] == u(2, 2)
    key = open_wrapped(UPDATE_KEY, ctx["ia"][P.TAG_UPDATE_RANDOM], card_id(1), card_id(3), 2, 1,
                       f[P.TAG_WRAPPED_KEY])
    assert key == TRANSFER_KEYS[2]


def info_fields(state, *tags):
    def check(ctx, f):
        assert f[P.TAG_STATE] == bytes((state,)) and sorted(f) == sorted((P.TAG_STATE,) + tags), f
    return check


# -- the case table --------------------------------------------------------------------------

CASES = []


def case(name, setup, apdu, want, change=None, check=None):
    CASES.append((name, setup, apdu, want, change, check))


ACTIVE = card_only()
DEBITED = {"money": 900, "counter": 1, "last_date": DATE, "pending_out": True, "log": 1}
CREDITED = {"money": 1100, "counter": 1, "last_date": DATE, "pending_in": False, "log": 1}
ALL_INS = (P.INS_GET_CARD_INFO, P.INS_KEY_UPDATE_PERMISSION, P.INS_KEY_OBTAIN, P.INS_KEY_UPDATE,
           P.INS_VALUE_TX_PERMISSION, P.INS_VALUE_RX_PERMISSION, P.INS_VALUE_TX, P.INS_VALUE_RX,
           P.INS_VALUE_TX_CONFIRM, P.INS_PENDING_RESOLVE, P.INS_VALUE_RX_ABORT,
           P.INS_GET_PENDING, P.INS_GET_BALANCE, P.INS_GET_LOG, P.INS_INITIALIZE,
           P.INS_PERSONALIZE, P.INS_LOCK)
PERSO_INS = (P.INS_INITIALIZE, P.INS_PERSONALIZE, P.INS_LOCK)
ACTIVE_INS = [i for i in ALL_INS if i not in PERSO_INS and i != P.INS_GET_CARD_INFO]

# Command framing and dispatch
case("apdu empty", ACTIVE, raw(b""), P.SW_WRONG_LENGTH)
case("apdu 3 bytes", ACTIVE, raw(b"\x80\xca\x00"), P.SW_WRONG_LENGTH)
case("apdu Lc above data", ACTIVE, raw(b"\x80\x60\x00\x00\x05\x85\x01\x01"), P.SW_WRONG_LENGTH)
case("apdu Lc below data", ACTIVE, raw(b"\x80\x60\x00\x00\x02\x85\x01\x01\x00\x00"),
     P.SW_WRONG_LENGTH)
case("apdu Lc zero with data", ACTIVE, raw(b"\x80\xca\x00\x00\x00\x01"), P.SW_WRONG_LENGTH)
case("apdu case 1 no Le", ACTIVE, raw(b"\x80\xca\x00\x00"), P.SW_OK)
case("apdu case 3 no Le", card_only(3, transfer_key_id=2),
     lambda c: cmd(P.INS_KEY_OBTAIN, build([(P.TAG_UPDATE_RANDOM, bytes(16)),
                                            (P.TAG_PEER_ID, card_id(1))]))[:-1], P.SW_OK)
case("ISO class, not SELECT", ACTIVE, raw(b"\x00\xca\x00\x00\x00"), P.SW_INS_UNKNOWN)
case("SELECT under proprietary class", ACTIVE, raw(b"\x80\xa4\x04\x00\x08" + P.AID),
     P.SW_INS_UNKNOWN)
case("unknown class 84", ACTIVE, raw(b"\x84\xca\x00\x00\x00"), P.SW_CLA_UNKNOWN)
case("unknown class FF", card_only(selected=False), raw(b"\xff\xca\x00\x00\x00"),
     P.SW_CLA_UNKNOWN)
case("unknown INS 00", ACTIVE, raw(b"\x80\x00\x00\x00\x00"), P.SW_INS_UNKNOWN)
case("unknown INS not selected", card_only(selected=False), raw(b"\x80\xfe\x00\x00\x00"),
     P.SW_INS_UNKNOWN)
for _ins in ALL_INS:
    case(f"not selected {_ins:02X}", card_only(selected=False), raw(cmd(_ins)), P.SW_WRONG_STATE)
    case(f"P2 {_ins:02X}", ACTIVE, raw(cmd(_ins, p2=1)), P.SW_WRONG_P1P2)
    if _ins not in (P.INS_GET_BALANCE, P.INS_GET_LOG):
        case(f"P1 {_ins:02X}", ACTIVE, raw(cmd(_ins, p1=1)), P.SW_WRONG_P1P2)
for _ins in ACTIVE_INS:
    case(f"in personalization {_ins:02X}", initialized, raw(cmd(_ins)), P.SW_WRONG_STATE)
    case(f"blank {_ins:02X}", blank(), raw(cmd(_ins)), P.SW_WRONG_STATE)
case("blank PERSONALIZE", blank(), raw(cmd(P.INS_PERSONALIZE, bytes(32))), P.SW_WRONG_STATE)
case("blank LOCK", blank(), raw(cmd(P.INS_LOCK, bytes(32))), P.SW_WRONG_STATE)

# S1001 SELECT: card information and a fresh update random number
case("SELECT active", card_only(selected=False), raw(SELECT), P.SW_OK, {}, check_select_active)
case("SELECT blank", blank(False), raw(SELECT), P.SW_OK, {}, info_fields(P.STATE_BLANK))
case("SELECT in personalization", initialized, raw(SELECT), P.SW_OK, {},
     info_fields(P.STATE_PERSONALIZATION, P.TAG_CARD_ID, P.TAG_PERSO_COUNTER))
case("SELECT payer pending", upto(3), raw(SELECT), P.SW_OK, {}, pending_flag(P.PENDING_OUT))
case("SELECT payee pending", upto(2, "b"), raw(SELECT), P.SW_OK, {}, pending_flag(P.PENDING_IN))
case("SELECT other AID", ACTIVE, raw(command(0, P.INS_SELECT, 4, 0, b"\xa0\x00\x00\x00\x03")),
     P.SW_FILE_NOT_FOUND)
case("SELECT AID plus a byte", ACTIVE, raw(command(0, P.INS_SELECT, 4, 0, P.AID + b"\x00")),
     P.SW_FILE_NOT_FOUND)
case("SELECT partial AID", card_only(selected=False),
     raw(command(0, P.INS_SELECT, 4, 0, P.AID[:-1])), P.SW_FILE_NOT_FOUND)
case("SELECT no AID", ACTIVE, raw(command(0, P.INS_SELECT, 4, 0)), P.SW_FILE_NOT_FOUND)
case("SELECT P1 00", ACTIVE, raw(command(0, P.INS_SELECT, 0, 0, P.AID)), P.SW_WRONG_P1P2)
case("SELECT P2 0C", ACTIVE, raw(command(0, P.INS_SELECT, 4, 0x0C, P.AID)), P.SW_WRONG_P1P2)

# S1002 GET CARD INFO, S1004 KEY UPDATE PERMISSION
case("GET CARD INFO", ACTIVE, raw(cmd(P.INS_GET_CARD_INFO)), P.SW_OK, {},
     info_fields(P.STATE_ACTIVE, P.TAG_CARD_ID, P.TAG_SCHEME, P.TAG_TRANSFER_KEY_ID,
                 P.TAG_UPDATE_KEY_ID, P.TAG_VALIDITY, P.TAG_LAST_DATE, P.TAG_PENDING))
case("GET CARD INFO blank", blank(), raw(cmd(P.INS_GET_CARD_INFO)), P.SW_OK, {},
     info_fields(P.STATE_BLANK))
case("GET CARD INFO with data", ACTIVE, raw(cmd(P.INS_GET_CARD_INFO, b"\x00")),
     P.SW_WRONG_LENGTH)
case("KEY UPDATE PERMISSION", ACTIVE, raw(cmd(P.INS_KEY_UPDATE_PERMISSION)), P.SW_OK, {},
     fresh_random)
case("KEY UPDATE PERMISSION with data", ACTIVE, raw(cmd(P.INS_KEY_UPDATE_PERMISSION, b"\x00")),
     P.SW_WRONG_LENGTH)

# S1005 KEY OBTAIN (card 3 wraps its key for card 1)
_KO = keyroll(obtained=False)
case("KEY OBTAIN", _KO, mk(P.INS_KEY_OBTAIN), P.SW_OK, {}, check_key_obtain)
case("KEY OBTAIN for itself", _KO, mk(P.INS_KEY_OBTAIN, {P.TAG_PEER_ID: card_id(3)}),
     P.SW_WRONG_DATA)
case("KEY OBTAIN no random", _KO, mk(P.INS_KEY_OBTAIN, {P.TAG_UPDATE_RANDOM: None}),
     P.SW_WRONG_DATA)
case("KEY OBTAIN short random", _KO, mk(P.INS_KEY_OBTAIN, {P.TAG_UPDATE_RANDOM: bytes(15)}),
     P.SW_WRONG_DATA)
case("KEY OBTAIN short peer", _KO, mk(P.INS_KEY_OBTAIN, {P.TAG_PEER_ID: bytes(7)}),
     P.SW_WRONG_DATA)
case("KEY OBTAIN repeated tag", _KO,
     lambda c: cmd(P.INS_KEY_OBTAIN, build(_key_obtain(c)) + encode(P.TAG_PEER_ID, bytes(8))),
     P.SW_WRONG_DATA)
case("KEY OBTAIN truncated TLV", _KO, lambda c: cmd(P.INS_KEY_OBTAIN, build(_key_obtain(c))[:-3]),
     P.SW_WRONG_DATA)

# S1006 KEY UPDATE (card 1 installs card 3's key, ID 2)
_KU = keyroll()
_ROLLED = {"transfer_key_id": 2, "transfer_key": TRANSFER_KEYS[2],
           "old_transfer_keys": b"\x00\x01" + TRANSFER_KEYS[1]}
case("KEY UPDATE", _KU, mk(P.INS_KEY_UPDATE), P.SW_OK, _ROLLED,
     equals({P.TAG_TRANSFER_KEY_ID: u(2, 2)}))
case("KEY UPDATE replayed", then(_KU, send("a", mk(P.INS_KEY_UPDATE))), mk(P.INS_KEY_UPDATE),
     P.SW_WRONG_STATE)
case("KEY UPDATE after a failed one", then(_KU, send("a", mk(P.INS_KEY_UPDATE, {
    P.TAG_WRAPPED_KEY: flip}), P.SW_SECURITY)), mk(P.INS_KEY_UPDATE), P.SW_WRONG_STATE)
case("KEY UPDATE stale random (reselected)", then(_KU, reselect("a")), mk(P.INS_KEY_UPDATE),
     P.SW_SECURITY)
case("KEY UPDATE stale random (new permission)",
     then(_KU, send("a", raw(cmd(P.INS_KEY_UPDATE_PERMISSION)))), mk(P.INS_KEY_UPDATE),
     P.SW_SECURITY)
case("KEY UPDATE wrapped key altered", _KU, mk(P.INS_KEY_UPDATE, {P.TAG_WRAPPED_KEY: flip}),
     P.SW_SECURITY)
case("KEY UPDATE other source", _KU, mk(P.INS_KEY_UPDATE, {P.TAG_PEER_ID: card_id(7)}),
     P.SW_SECURITY)
case("KEY UPDATE key ID changed", _KU, mk(P.INS_KEY_UPDATE, {P.TAG_TRANSFER_KEY_ID: u(3, 2)}),
     P.SW_SECURITY)
case("KEY UPDATE from itself", _KU, mk(P.INS_KEY_UPDATE, {P.TAG_PEER_ID: card_id(1)}),
     P.SW_WRONG_DATA)
case("KEY UPDATE other update key", _KU, mk(P.INS_KEY_UPDATE, {P.TAG_UPDATE_KEY_ID: u(2, 2)}),
     P.SW_NOT_FOUND)
case("KEY UPDATE same key ID", keyroll({"transfer_key_id": 2}), mk(P.INS_KEY_UPDATE),
     P.SW_KEY_ID_REFUSED)
case("KEY UPDATE older key ID (rollback)", keyroll({"transfer_key_id": 3}),
     mk(P.INS_KEY_UPDATE), P.SW_KEY_ID_REFUSED)
case("KEY UPDATE above upper limit", keyroll({"limit": 1}), mk(P.INS_KEY_UPDATE),
     P.SW_KEY_ID_REFUSED)
case("KEY UPDATE short wrapped key", _KU,
     mk(P.INS_KEY_UPDATE, {P.TAG_WRAPPED_KEY: lambda v: v[:16]}), P.SW_WRONG_DATA)
case("KEY UPDATE no key ID", _KU, mk(P.INS_KEY_UPDATE, {P.TAG_TRANSFER_KEY_ID: None}),
     P.SW_WRONG_DATA)
case("KEY UPDATE no data", _KU, raw(cmd(P.INS_KEY_UPDATE)), P.SW_WRONG_DATA)

# S2001 VALUE TX PERMISSION (payer)
_TX = mk(P.INS_VALUE_TX_PERMISSION)
_P = upto(0)


def _s2001_with(changes):
    return mk(P.INS_VALUE_TX_PERMISSION, changes)


SET_ASIDE = {"money": 900, "pending_out": True}  # S2001 sets the amount aside (section 7)
case("S2001", _P, _TX, P.SW_OK, SET_ASIDE, check_s2001)
case("S2001 whole balance", upto(0, terms=(MONEY, 1000, DATE)), _TX, P.SW_OK,
     {"money": 0, "pending_out": True})
case("S2001 points", upto(0, terms=(POINTS, 50, DATE)), _TX, P.SW_OK,
     {"points": 0, "pending_out": True})
case("S2001 on the last valid day", upto(0, terms=(MONEY, 1, VALIDITY)), _TX, P.SW_OK,
     {"money": 999, "pending_out": True})
case("S2001 amount zero", _P, _s2001_with({P.TAG_AMOUNT: u(0, 4)}), P.SW_WRONG_DATA)
case("S2001 amount 2^31 (negative)", _P, _s2001_with({P.TAG_AMOUNT: u(0x80000000, 4)}),
     P.SW_WRONG_DATA)
case("S2001 amount FFFFFFFF (-1)", _P, _s2001_with({P.TAG_AMOUNT: b"\xff" * 4}),
     P.SW_WRONG_DATA)
case("S2001 amount above balance", _P, _s2001_with({P.TAG_AMOUNT: u(1001, 4)}),
     P.SW_VALUE_LIMIT)
case("S2001 points above balance", upto(0, terms=(POINTS, 51, DATE)), _TX, P.SW_VALUE_LIMIT)
case("S2001 purse not held", _P, _s2001_with({P.TAG_PURSE: b"\x03"}), P.SW_NOT_FOUND)
case("S2001 purse 0", _P, _s2001_with({P.TAG_PURSE: b"\x00"}), P.SW_NOT_FOUND)
case("S2001 date past validity", _P, _s2001_with({P.TAG_DATE: u(VALIDITY + 1, 4)}),
     P.SW_DATE_REFUSED)
case("S2001 expired card", upto(0, a_kw={"validity": DATE - 1}), _TX, P.SW_DATE_REFUSED)
case("S2001 date before last transaction (a terminal's date refuses nothing later)",
     then(upto(5), reselect("a")), _s2001_with({P.TAG_DATE: u(DATE - 1, 4)}), P.SW_OK,
     {"money": 800, "pending_out": True})
case("S2001 date before the issue date", upto(0, a_kw={"not_before": DATE + 1}), _TX,
     P.SW_DATE_REFUSED)
case("S2001 on the issue date", upto(0, a_kw={"not_before": DATE}), _TX, P.SW_OK, SET_ASIDE)
case("S2001 same date as last transaction", then(upto(5), reselect("a")), _TX, P.SW_OK,
     {"money": 800, "pending_out": True})
case("S2001 while an amount is set aside", upto(1), _TX, P.SW_PENDING)
case("S2001 to itself", _P, _s2001_with({P.TAG_PEER_ID: card_id(1)}), P.SW_WRONG_DATA)
case("S2001 while debit pending", upto(3), _TX, P.SW_PENDING)
case("S2001 amount 3 bytes", _P, _s2001_with({P.TAG_AMOUNT: u(100, 3)}), P.SW_WRONG_DATA)
case("S2001 amount 5 bytes", _P, _s2001_with({P.TAG_AMOUNT: u(100, 5)}), P.SW_WRONG_DATA)
case("S2001 no date", _P, _s2001_with({P.TAG_DATE: None}), P.SW_WRONG_DATA)
case("S2001 short peer", _P, _s2001_with({P.TAG_PEER_ID: bytes(7)}), P.SW_WRONG_DATA)
case("S2001 repeated tag", _P, lambda c: cmd(P.INS_VALUE_TX_PERMISSION, build(_s2001(c))
                                               + encode(P.TAG_AMOUNT, u(1, 4))), P.SW_WRONG_DATA)
case("S2001 trailing byte", _P, lambda c: cmd(P.INS_VALUE_TX_PERMISSION, build(_s2001(c))
                                               + b"\x86"), P.SW_WRONG_DATA)
case("S2001 bad length byte", _P,
     lambda c: cmd(P.INS_VALUE_TX_PERMISSION, b"\x85\x83\x00\x00\x01\x01"), P.SW_WRONG_DATA)
case("S2001 no data", _P, raw(cmd(P.INS_VALUE_TX_PERMISSION)), P.SW_WRONG_DATA)

# S2002 VALUE RX PERMISSION (payee checks the permission token)
_RX = mk(P.INS_VALUE_RX_PERMISSION)
_B1 = upto(1, "b")


def _s2002_with(changes):
    return mk(P.INS_VALUE_RX_PERMISSION, changes)


case("S2002", _B1, _RX, P.SW_OK, {"pending_in": True}, check_s2002)
case("S2002 forged token", _B1, _s2002_with({P.TAG_MAC: flip}), P.SW_SECURITY)
case("S2002 amount changed", _B1, _s2002_with({P.TAG_AMOUNT: u(101, 4)}), P.SW_SECURITY)
case("S2002 date changed", _B1, _s2002_with({P.TAG_DATE: u(DATE + 1, 4)}), P.SW_SECURITY)
case("S2002 purse changed", _B1, _s2002_with({P.TAG_PURSE: b"\x02"}), P.SW_SECURITY)
case("S2002 payer counter changed", _B1, _s2002_with({P.TAG_PEER_COUNTER: u(1, 4)}),
     P.SW_SECURITY)
case("S2002 tx random changed", _B1, _s2002_with({P.TAG_TX_RANDOM: flip}), P.SW_SECURITY)
case("S2002 other payer", _B1, _s2002_with({P.TAG_PEER_ID: card_id(7)}), P.SW_SECURITY)
case("S2002 other transfer key", upto(1, "b", b_kw={"transfer_key_id": 2}), _RX, P.SW_SECURITY)
case("S2002 balance above maximum", upto(1, "b", b_kw={"max_balance": 1099}), _RX,
     P.SW_VALUE_LIMIT)
case("S2002 balance reaches maximum", upto(1, "b", b_kw={"max_balance": 1100}), _RX, P.SW_OK,
     {"pending_in": True})
case("S2002 while credit pending", upto(2, "b"), _RX, P.SW_PENDING)
case("S2002 date past validity", upto(1, "b", b_kw={"validity": DATE - 1}), _RX,
     P.SW_DATE_REFUSED)
case("S2002 date before last transaction",
     then(upto(5, "b"), reselect("b"), third_pays("b", 10, DATE + 1), reselect("b"), steps(1)),
     _RX, P.SW_OK, {"pending_in": True})
case("S2002 date before the issue date", upto(1, "b", b_kw={"not_before": DATE + 1}), _RX,
     P.SW_DATE_REFUSED)
case("S2002 amount zero", _B1, _s2002_with({P.TAG_AMOUNT: u(0, 4)}), P.SW_WRONG_DATA)
case("S2002 amount 2^31", _B1, _s2002_with({P.TAG_AMOUNT: u(0x80000000, 4)}), P.SW_WRONG_DATA)
case("S2002 from itself", _B1, _s2002_with({P.TAG_PEER_ID: card_id(2)}), P.SW_WRONG_DATA)
case("S2002 purse not held", _B1, _s2002_with({P.TAG_PURSE: b"\x07"}), P.SW_NOT_FOUND)
case("S2002 short tx random", _B1, _s2002_with({P.TAG_TX_RANDOM: bytes(15)}), P.SW_WRONG_DATA)
case("S2002 no token", _B1, _s2002_with({P.TAG_MAC: None}), P.SW_WRONG_DATA)
case("S2002 counter 3 bytes", _B1, _s2002_with({P.TAG_PEER_COUNTER: bytes(3)}),
     P.SW_WRONG_DATA)

# S2003 VALUE TX (payer checks the transmission challenge, debits)
_VT = mk(P.INS_VALUE_TX)
_A2 = upto(2)


def _s2003_with(changes):
    return mk(P.INS_VALUE_TX, changes)


def session_key(ctx):
    """The test's own copy of the session key (it knows the transfer keys): the protocol is
    exactly what common.transfer documents."""
    purse, amount, date = ctx["terms"]
    context = T.pack(purse, amount, date, card_id(1), card_id(2),
                     int.from_bytes(ctx["r1"][P.TAG_COUNTER], "big"),
                     int.from_bytes(ctx["r2"][P.TAG_COUNTER], "big"), ctx["r1"][P.TAG_TX_RANDOM],
                     ctx["r2"][P.TAG_RX_RANDOM])
    return T.session_key(TRANSFER_KEYS[1], context)


def _s2003_under(label):
    """S2003 whose challenge is a MAC under the right session key with `label`."""
    def apdu(ctx):
        return cmd(P.INS_VALUE_TX, build(_s2003(ctx), {
            P.TAG_TX_CHALLENGE: T.mac(session_key(ctx), label)}))
    return apdu


def _old_s2003(ctx, lab):
    ctx["old"] = mk(P.INS_VALUE_TX)(ctx)


case("S2003", _A2, _VT, P.SW_OK, DEBITED, check_s2003)
case("S2003 points", upto(2, terms=(POINTS, 5, DATE)), _VT, P.SW_OK,
     {"points": 45, "counter": 1, "last_date": DATE, "pending_out": True, "log": 1})
case("S2003 forged challenge", _A2, _s2003_with({P.TAG_TX_CHALLENGE: flip}), P.SW_SECURITY)
case("S2003 rx random changed", _A2, _s2003_with({P.TAG_RX_RANDOM: flip}), P.SW_SECURITY)
case("S2003 payee counter changed", _A2, _s2003_with({P.TAG_PEER_COUNTER: u(5, 4)}),
     P.SW_SECURITY)
case("S2003 made by the test", _A2, _s2003_under(T.TX_CHALLENGE), P.SW_OK, DEBITED)
case("S2003 reception label as challenge", _A2, _s2003_under(T.RX_CHALLENGE), P.SW_SECURITY)
case("S2003 abort label as challenge", _A2, _s2003_under(T.ABORT_PROOF), P.SW_SECURITY)
case("S2003 second try after a forged one",
     then(_A2, send("a", _s2003_with({P.TAG_TX_CHALLENGE: flip}), P.SW_SECURITY)), _VT,
     P.SW_WRONG_STATE)
case("S2003 without S2001", upto(0), raw(cmd(P.INS_VALUE_TX, build(
    [(P.TAG_TX_CHALLENGE, bytes(16)), (P.TAG_RX_RANDOM, bytes(16)),
     (P.TAG_PEER_COUNTER, bytes(4))]))), P.SW_WRONG_STATE)
case("S2003 after reselect", then(_A2, reselect("a")), _VT, P.SW_WRONG_STATE)
case("S2003 after power cycle", then(_A2, reboot("a")), _VT, P.SW_WRONG_STATE)
case("S2003 repeated", then(_A2, send("a", _VT)), _VT, P.SW_WRONG_STATE)
case("S2003 replayed from an earlier session",
     then(upto(5), _old_s2003, reselect("a"), reselect("b"), steps(2)),
     lambda c: c["old"], P.SW_SECURITY)
case("S2003 after a later credit", then(_A2, third_pays("a", 10, DATE + 1)), _VT, P.SW_OK,
     {"money": 910, "counter": 2, "pending_out": True, "log": 2})
case("S2003 short challenge", _A2, _s2003_with({P.TAG_TX_CHALLENGE: bytes(8)}), P.SW_WRONG_DATA)
case("S2003 no rx random", _A2, _s2003_with({P.TAG_RX_RANDOM: None}), P.SW_WRONG_DATA)

# S2004 VALUE RX (payee checks the reception challenge, credits)
_VR = mk(P.INS_VALUE_RX)
_B3 = upto(3, "b")


def _s2004_with(changes):
    return mk(P.INS_VALUE_RX, changes)


case("S2004", _B3, _VR, P.SW_OK, CREDITED, check_s2004)
case("S2004 repeated: same proof, no second credit", upto(4, "b"), _VR, P.SW_OK, {}, same_proof)
case("S2004 repeated after power cycle", then(upto(4, "b"), reboot("b")), _VR, P.SW_OK, {},
     same_proof)
case("S2004 forged challenge", _B3, _s2004_with({P.TAG_RX_CHALLENGE: flip}), P.SW_SECURITY)
case("S2004 transmission challenge as reception", _B3,
     lambda c: cmd(P.INS_VALUE_RX, build(_s2004(c), {P.TAG_RX_CHALLENGE: c["r2"][
         P.TAG_TX_CHALLENGE]})), P.SW_SECURITY)
case("S2004 unknown rx random", _B3, _s2004_with({P.TAG_RX_RANDOM: flip}), P.SW_NOT_FOUND)
case("S2004 nothing pending", then(upto(0, "b")), raw(cmd(P.INS_VALUE_RX, build(
    [(P.TAG_RX_CHALLENGE, bytes(16)), (P.TAG_RX_RANDOM, bytes(16))]))), P.SW_NOT_FOUND)
case("S2004 short challenge", _B3, _s2004_with({P.TAG_RX_CHALLENGE: bytes(15)}),
     P.SW_WRONG_DATA)
case("S2004 no challenge", _B3, _s2004_with({P.TAG_RX_CHALLENGE: None}), P.SW_WRONG_DATA)

# S2005 VALUE TX CONFIRM (payer clears its pending record)
_VC = mk(P.INS_VALUE_TX_CONFIRM)
_A4 = upto(4)


def _s2005_with(changes):
    return mk(P.INS_VALUE_TX_CONFIRM, changes)


case("S2005", _A4, _VC, P.SW_OK, {"pending_out": False}, equals({}))
case("S2005 forged proof", _A4, _s2005_with({P.TAG_CREDIT_PROOF: flip}), P.SW_SECURITY)
case("S2005 reception challenge as proof", _A4, lambda c: cmd(P.INS_VALUE_TX_CONFIRM, build(
    _s2005(c), {P.TAG_CREDIT_PROOF: c["r3"][P.TAG_RX_CHALLENGE]})), P.SW_SECURITY)
case("S2005 other tx random", _A4, _s2005_with({P.TAG_TX_RANDOM: flip}), P.SW_NOT_FOUND)
case("S2005 nothing pending", upto(5), _VC, P.SW_NOT_FOUND)
case("S2005 short proof", _A4, _s2005_with({P.TAG_CREDIT_PROOF: bytes(4)}), P.SW_WRONG_DATA)

# GET PENDING, PENDING RESOLVE (payer), VALUE RX ABORT (payee)
_GP = raw(cmd(P.INS_GET_PENDING))
case("GET PENDING none", ACTIVE, _GP, P.SW_OK, {}, equals({}))
case("GET PENDING payer", upto(3), _GP, P.SW_OK, {}, pending_out_record)
case("GET PENDING payee", upto(2, "b"), _GP, P.SW_OK, {}, pending_in_record)
case("GET PENDING with data", ACTIVE, raw(cmd(P.INS_GET_PENDING, b"\x00")), P.SW_WRONG_LENGTH)

_PR = mk(P.INS_PENDING_RESOLVE)


def _resolve_with(changes):
    return mk(P.INS_PENDING_RESOLVE, changes)


def _payer_id(value, n=2):
    return value[:9] + card_id(n) + value[17:]


case("RESOLVE debited: reception challenge", upto(3), _PR, P.SW_OK, {}, reception_is)
case("RESOLVE debited and confirmed: from the log", then(upto(5), reselect("a")), _PR, P.SW_OK,
     {}, reception_is)
case("RESOLVE debited, other key ID", upto(3),
     _resolve_with({P.TAG_TRANSFER_KEY_ID: u(7, 2)}), P.SW_OK, {}, reception_is)
case("RESOLVE never debited: abort proof", upto(2), _PR, P.SW_OK, {}, no_more_debit)
case("RESOLVE never debited, after power cycle", then(upto(2), reboot("a")), _PR, P.SW_OK, {},
     has(P.TAG_ABORT_PROOF))
case("RESOLVE after the key rolled on",
     then(upto(2), roll_a), _PR, P.SW_OK, {}, abort_opens)
case("RESOLVE not the payer", upto(2), _resolve_with({P.TAG_CONTEXT: _payer_id}),
     P.SW_WRONG_DATA)
case("RESOLVE unknown key ID", upto(2), _resolve_with({P.TAG_TRANSFER_KEY_ID: u(7, 2)}),
     P.SW_NOT_FOUND)
case("RESOLVE short context", upto(2), _resolve_with({P.TAG_CONTEXT: lambda v: v[:-1]}),
     P.SW_WRONG_DATA)
case("RESOLVE no key ID", upto(2), _resolve_with({P.TAG_TRANSFER_KEY_ID: None}),
     P.SW_WRONG_DATA)

_AB = mk(P.INS_VALUE_RX_ABORT)
_B2AP = then(upto(2), abort_proof, on("b"))


def _abort_with(changes):
    return mk(P.INS_VALUE_RX_ABORT, changes)


def _abort_under(label):
    """VALUE RX ABORT with a MAC made by the test under the session key, labelled `label`."""
    def apdu(ctx):
        key = T.session_key(TRANSFER_KEYS[1], ctx["pin"][P.TAG_CONTEXT])
        return cmd(P.INS_VALUE_RX_ABORT, build(_abort(ctx), {P.TAG_ABORT_PROOF: T.mac(key, label)}))
    return apdu


case("RX ABORT", _B2AP, _AB, P.SW_OK, {"pending_in": False})
case("RX ABORT with a proof made by the test", upto(2, "b"), _abort_under(T.ABORT_PROOF), P.SW_OK,
     {"pending_in": False})
case("RX ABORT forged proof", _B2AP, _abort_with({P.TAG_ABORT_PROOF: flip}), P.SW_SECURITY)
case("RX ABORT reception challenge as proof", upto(2, "b"), _abort_under(T.RX_CHALLENGE),
     P.SW_SECURITY)
case("RX ABORT credit proof label", upto(2, "b"), _abort_under(T.CREDIT_PROOF), P.SW_SECURITY)
case("RX ABORT other rx random", _B2AP, _abort_with({P.TAG_RX_RANDOM: flip}), P.SW_NOT_FOUND)
case("RX ABORT nothing pending", then(_B2AP, send("b", _AB)), _AB, P.SW_NOT_FOUND)
case("RX ABORT no rx random", _B2AP, _abort_with({P.TAG_RX_RANDOM: None}), P.SW_WRONG_DATA)

# GET BALANCE, GET LOG


def _get(ins, p1=0):
    return raw(cmd(ins, p1=p1))


def _get_log(p1):
    return raw(cmd(P.INS_GET_LOG, p1=p1))


def _transfers(n):
    def action(ctx, lab):
        for i in range(n):
            ctx["terms"] = (MONEY, 1 + i, DATE + i)
            ctx["ia"] = ok(ctx["a"], SELECT)
            ctx["ib"] = ok(ctx["b"], SELECT)
            run_steps(ctx, 5)
    return action


_MANY = then(upto(0), _transfers(9))
case("GET BALANCE all", ACTIVE, _get(P.INS_GET_BALANCE), P.SW_OK, {},
     balances((1, 1000, 100000), (2, 50, 100000)))
case("GET BALANCE points", ACTIVE, _get(P.INS_GET_BALANCE, 2), P.SW_OK, {},
     balances((2, 50, 100000)))
case("GET BALANCE after S2003", upto(3), _get(P.INS_GET_BALANCE, 1), P.SW_OK, {},
     balances((1, 900, 100000)))
case("GET BALANCE purse not held", ACTIVE, raw(cmd(P.INS_GET_BALANCE, p1=3)), P.SW_NOT_FOUND)
case("GET BALANCE with data", ACTIVE, raw(cmd(P.INS_GET_BALANCE, b"\x00")), P.SW_WRONG_LENGTH)
case("GET LOG empty", ACTIVE, _get_log(0), P.SW_OK, {}, log_entries(0))
case("GET LOG payer", upto(5), _get_log(0), P.SW_OK, {}, log_entries(1, P.LOG_OUT))
case("GET LOG payee", upto(5, "b"), _get_log(0), P.SW_OK, {}, log_entries(1, P.LOG_IN))
case("GET LOG first page of a full log", _MANY, _get_log(0), P.SW_OK, {}, log_entries(3))
case("GET LOG last page", _MANY, _get_log(6), P.SW_OK, {}, log_entries(2))
case("GET LOG at the end", _MANY, _get_log(P.LOG_SIZE), P.SW_OK, {}, log_entries(0))
case("GET LOG past the end", _MANY, raw(cmd(P.INS_GET_LOG, p1=P.LOG_SIZE + 1)), P.SW_WRONG_P1P2)
case("GET LOG past the end, empty", ACTIVE, raw(cmd(P.INS_GET_LOG, p1=1)), P.SW_WRONG_P1P2)
case("GET LOG with data", ACTIVE, raw(cmd(P.INS_GET_LOG, b"\x00")), P.SW_WRONG_LENGTH)

# Personalization: INITIALIZE once, PERSONALIZE and LOCK secured, nothing after LOCK
_INIT = raw(cmd(P.INS_INITIALIZE, encode(P.TAG_CARD_ID, card_id(1))
                + encode(P.TAG_PERSO_KEY, perso_key(1))))
_PARTS = perso_parts()
_FULL = b"".join(_PARTS)
_NO_PURSES = b"".join(_PARTS[:-2])
_LOADED = {"life_cycle": P.STATE_PERSONALIZATION, "perso_counter": 1, "scheme": 1,
           "validity": VALIDITY, "transfer_key_id": 1, "transfer_key_limit": 10,
           "update_key_id": 1, "update_key_limit": 10, "transfer_key": TRANSFER_KEYS[1],
           "update_key": UPDATE_KEY, "money": 1000, "money_max": 100000, "points": 50,
           "points_max": 100000}
case("INITIALIZE", blank(), _INIT, P.SW_OK,
     {"life_cycle": P.STATE_PERSONALIZATION, "card_id": card_id(1), "perso_key": perso_key(1)})
case("INITIALIZE twice", initialized, _INIT, P.SW_WRONG_STATE)
case("INITIALIZE active card", ACTIVE, _INIT, P.SW_WRONG_STATE)
case("INITIALIZE no key", blank(), raw(cmd(P.INS_INITIALIZE, encode(P.TAG_CARD_ID, card_id(1)))),
     P.SW_WRONG_DATA)
case("INITIALIZE short card ID", blank(), raw(cmd(P.INS_INITIALIZE, encode(
    P.TAG_CARD_ID, bytes(7)) + encode(P.TAG_PERSO_KEY, perso_key(1)))), P.SW_WRONG_DATA)
case("INITIALIZE not selected", blank(False), _INIT, P.SW_WRONG_STATE)
case("PERSONALIZE", initialized, sealed(P.INS_PERSONALIZE, _FULL), P.SW_OK, _LOADED)
case("PERSONALIZE in two parts", then(initialized, send("card", sealed(
    P.INS_PERSONALIZE, b"".join(_PARTS[:4])))), sealed(P.INS_PERSONALIZE, b"".join(_PARTS[4:])),
     P.SW_OK,
     dict(_LOADED, perso_counter=2))
case("PERSONALIZE issuer master key", initialized,
     sealed(P.INS_PERSONALIZE, _FULL, key=ISSUER_PERSO_KEY), P.SW_SECURITY)
case("PERSONALIZE other card's key", initialized,
     sealed(P.INS_PERSONALIZE, _FULL, key=perso_key(2)), P.SW_SECURITY)
case("PERSONALIZE replayed", then(initialized, send("card", sealed(P.INS_PERSONALIZE, _FULL))),
     sealed(P.INS_PERSONALIZE, _FULL, counter=0), P.SW_SECURITY)
case("PERSONALIZE counter ahead", initialized, sealed(P.INS_PERSONALIZE, _FULL, counter=1),
     P.SW_SECURITY)
case("PERSONALIZE sealed for LOCK", initialized,
     sealed(P.INS_PERSONALIZE, _FULL, header_ins=P.INS_LOCK), P.SW_SECURITY)
case("PERSONALIZE cryptogram altered", initialized,
     altered(sealed(P.INS_PERSONALIZE, _FULL), 0, 16), P.SW_SECURITY)
case("PERSONALIZE MAC altered", initialized, altered(sealed(P.INS_PERSONALIZE, _FULL), -1, 16),
     P.SW_SECURITY)
case("PERSONALIZE too short", initialized, raw(cmd(P.INS_PERSONALIZE, bytes(31))), P.SW_SECURITY)
case("PERSONALIZE not whole blocks", initialized, altered(sealed(P.INS_PERSONALIZE, _FULL), -1, 1),
     P.SW_SECURITY)
case("PERSONALIZE unknown field", initialized, sealed(P.INS_PERSONALIZE, b"\x9f\x7f\x01\x00"),
     P.SW_WRONG_DATA)
case("PERSONALIZE field of wrong size", initialized,
     sealed(P.INS_PERSONALIZE, encode(P.TAG_VALIDITY, u(0x10000, 3))), P.SW_WRONG_DATA)
case("PERSONALIZE short key", initialized,
     sealed(P.INS_PERSONALIZE, encode(P.TAG_TRANSFER_KEY, bytes(15))), P.SW_WRONG_DATA)
case("PERSONALIZE balance above maximum", initialized,
     sealed(P.INS_PERSONALIZE, purse_record(1, 11, 10)), P.SW_WRONG_DATA)
case("PERSONALIZE maximum 2^31", initialized,
     sealed(P.INS_PERSONALIZE, purse_record(1, 0, 0x80000000)), P.SW_WRONG_DATA)
case("PERSONALIZE malformed plaintext", initialized,
     sealed(P.INS_PERSONALIZE, _FULL[:-1]), P.SW_WRONG_DATA)
case("PERSONALIZE active card", ACTIVE, sealed(P.INS_PERSONALIZE, _FULL), P.SW_WRONG_STATE)
case("LOCK", loaded(), sealed(P.INS_LOCK, b""), P.SW_OK,
     {"life_cycle": P.STATE_ACTIVE, "perso_counter": 2})
case("LOCK empty card", initialized, sealed(P.INS_LOCK, b""), P.SW_WRONG_STATE)
case("LOCK without purses", then(initialized, send("card", sealed(P.INS_PERSONALIZE, _NO_PURSES))),
     sealed(P.INS_LOCK, b""), P.SW_WRONG_STATE)
case("LOCK key ID above limit", loaded(transfer_key_id=3, limit=2), sealed(P.INS_LOCK, b""),
     P.SW_WRONG_STATE)
case("LOCK wrong key", loaded(), sealed(P.INS_LOCK, b"", key=perso_key(2)), P.SW_SECURITY)
case("LOCK replayed PERSONALIZE", loaded(), lambda c: cmd(P.INS_LOCK, sealed(
    P.INS_PERSONALIZE, b"")(c)[5:-1]), P.SW_SECURITY)
case("LOCK twice", ACTIVE, sealed(P.INS_LOCK, b""), P.SW_WRONG_STATE)
case("PERSONALIZE after LOCK", ACTIVE, sealed(P.INS_PERSONALIZE,
                                              encode(P.TAG_TRANSFER_KEY, bytes(16))),
     P.SW_WRONG_STATE)
case("PERSONALIZE after LOCK and power cycle", then(ACTIVE, reboot("a"), on("a")),
     sealed(P.INS_PERSONALIZE, purse_record(1, 99999, 100000)), P.SW_WRONG_STATE)
case("value command in personalization", loaded(), raw(cmd(P.INS_GET_BALANCE)),
     P.SW_WRONG_STATE)


# -- running a case --------------------------------------------------------------------------

def run_case(lab, row):
    """Run one row of CASES; (INS, status word) of the command it checked."""
    name, setup, apdu_fn, want, change, check = row
    ctx = setup(lab)
    card = ctx["card"]
    apdu = apdu_fn(ctx)
    before = card.store.load()
    resp = card.process(apdu)
    ctx["resp"] = resp
    got = sw_of(resp)
    assert got == want, f"{name}: status {got:04X}, want {want:04X}"
    after = card.store.load()
    if got != P.SW_OK or not change:
        changed = diff(summary(CardState.decode(before or b"")),
                       summary(CardState.decode(after or b"")))
        assert after == before, f"{name}: record changed: {changed}"
    else:
        expect = summary(CardState.decode(before or b""))
        expect.update(change)
        now = summary(CardState.decode(after))
        assert now == expect, f"{name}: {diff(expect, now)}"
    mem = summary(card.state)
    kept = summary(stored(card))
    assert mem == kept, f"{name}: memory and store differ: {diff(kept, mem)}"
    if got == P.SW_OK:
        if check is not None:
            assert check(ctx, fields_of(resp)) is not False, f"{name}: response check"
    else:
        assert resp == bytes((want >> 8, want & 0xFF)), f"{name}: data with an error"
        still_works(lab, card)
    return apdu[1] if len(apdu) > 1 else None, got


def still_works(lab, card):
    """A refused command leaves a usable card: it selects, and pays a fresh card if it can."""
    state_before = summary(stored(card))
    info = ok(card, SELECT)
    if info[P.TAG_STATE][0] != P.STATE_ACTIVE:
        ok(card, cmd(P.INS_GET_CARD_INFO))
        return
    s = stored(card)
    date = max(s.not_before, DATE)
    if s.pending_out is not None or s.purses[MONEY][0] < 1 or date > s.validity:
        ok(card, cmd(P.INS_GET_BALANCE))
        return
    peer = lab.card(PEER)
    r = settle(card, peer, MONEY, 1, date)
    assert r["payer_balance"] == state_before["money"] - 1 and r["payee_balance"] == 1001, r
