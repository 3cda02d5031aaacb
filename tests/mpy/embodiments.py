"""Key-update embodiments 2-5 (seed Fig. 7, 10, 11, 14, 17, 18) on real applets, one process.

    micropython embodiments.py FOLDER

Each embodiment in both directions (older card paying and older card paid), update keys equal
and different, revoked cards and the terminal's CRL, certificate dates and CAs, forged,
replayed and tampered messages, key IDs at, above and below their limits. Messages a genuine
card would never send are made here with the source card's own secret key (read from its
state), so that each check reaches the card step it is about. Prints `OK embodiments N checks`.
"""
import sys
from hashlib import sha256

from cards import (
    CA_KEY,
    CA_REFERENCE,
    OTHER_CA_KEY,
    TRANSFER_KEYS,
    UPDATE_KEYS,
    ca_public_key,
    card_id,
    make_card,
)

from card.applet import Applet
from card.keys import T_CERTIFICATE, T_SECRET_KEY, activation, field, preloaded
from card.store import Store
from common import crl, cvc, p256, pkroll
from common import proto as P
from common.apdu import command
from common.tlv import encode, parse, uint
from terminal.cardlink import SettlementError
from terminal.revocation import CrlHolder, RevokedCard
from terminal.settlement import settle

ROOT = sys.argv[1]
DATE = 20261125
MONEY = P.PURSE_MONEY
OK = 0x9000
SELECT = command(P.CLA_ISO, P.INS_SELECT, 4, 0, P.AID)
PK = (P.SCHEME_PKI, P.SCHEME_HYBRID, P.SCHEME_HYBRID_UPDATE)
NAMES = {P.SCHEME_PKI: "pki", P.SCHEME_HYBRID: "hybrid", P.SCHEME_PRELOADED: "preloaded",
         P.SCHEME_HYBRID_UPDATE: "hybrid-update", P.SCHEME_SYMMETRIC: "symmetric"}
PAYS = {True: "pays", False: "is paid"}
checks = [0]
_n = [0]


def ok(name):
    checks[0] += 1
    print("ok", name)


def card(scheme=P.SCHEME_SYMMETRIC, tk=1, uk=1, **kw):
    """A fresh card of `scheme` on transfer key generation `tk`, update key generation `uk`."""
    _n[0] += 1
    if scheme != P.SCHEME_PKI:
        kw["update_key_id"] = uk
        kw["update_key"] = UPDATE_KEYS[uk]
    return make_card(ROOT, _n[0], scheme=scheme, transfer_key_id=tk, **kw)


def reloaded(applet):
    """The card as its flash holds it (what survives a power cycle)."""
    return Applet(Store(applet.store.root)).state


def cert_of(applet):
    return field(applet.state, T_CERTIFICATE)


def secret_of(applet):
    return field(applet.state, T_SECRET_KEY)


def cmd(applet, ins, data=b""):
    resp = applet.process(command(P.CLA_PROPRIETARY, ins, 0, 0, data))
    return resp[:-2], (resp[-2] << 8) | resp[-1]


def refused(payer, payee, sw=None, text=None, **kw):
    """The SettlementError of settling between `payer` and `payee`, checked."""
    try:
        settle(payer, payee, MONEY, 5, DATE, **kw)
    except SettlementError as e:
        assert sw is None or e.sw == sw, (e, sw)
        assert text is None or text in str(e), (str(e), text)
        return e
    raise AssertionError("not refused")


class Trace:
    def __init__(self):
        self.ins = []
        self.bytes = b""

    def __call__(self, step, label, apdu, resp, ms):
        self.ins.append(apdu[1])
        self.bytes += apdu + resp


# -- embodiments end to end ------------------------------------------------------------------

def roll_and_pay(old, new, older_pays, path):
    payer, payee = (old, new) if older_pays else (new, old)
    before = payer.state.purses[MONEY][0], payee.state.purses[MONEY][0]
    trace = Trace()
    r = settle(payer, payee, MONEY, 100, DATE, trace)
    assert r["key_roll"] == path, (r["key_roll"], path)
    assert (r["payer_balance"], r["payee_balance"]) == (before[0] - 100, before[1] + 100), r
    assert reloaded(old).transfer_key_id == new.state.transfer_key_id
    assert reloaded(old).transfer_key == new.state.transfer_key
    again = settle(payee, payer, MONEY, 1, DATE)
    assert again["key_roll"] == "none", again
    return r, trace


def public_key_embodiments():
    for scheme in PK:
        for older_pays in (True, False):
            old = card(scheme, tk=1, uk=1)
            new = card(scheme, tk=2, uk=2)  # hybrid ones: different update keys -> public key
            r, trace = roll_and_pay(old, new, older_pays, "public-key")
            base = {P.SCHEME_PKI: 3000, P.SCHEME_HYBRID: 5000, P.SCHEME_HYBRID_UPDATE: 8000}
            assert "S" + str(base[scheme] + 5) in r["steps"], r["steps"]
            assert P.INS_KEY_OBTAIN not in trace.ins and TRANSFER_KEYS[2] not in trace.bytes
            got = reloaded(old)
            if scheme == P.SCHEME_HYBRID_UPDATE:  # S8105A: the update key rolled too
                assert (got.update_key_id, got.update_key) == (2, UPDATE_KEYS[2])
            elif scheme == P.SCHEME_HYBRID:
                assert (got.update_key_id, got.update_key) == (1, UPDATE_KEYS[1])
            ok(f"{NAMES[scheme]} public-key roll, older card {PAYS[older_pays]}")


def update_key_embodiments():
    for scheme in (P.SCHEME_HYBRID, P.SCHEME_HYBRID_UPDATE):
        for older_pays in (True, False):
            old = card(scheme, tk=1, uk=2)
            new = card(scheme, tk=2, uk=2)  # same update key: the fast path (Fig. 10, 17)
            _, trace = roll_and_pay(old, new, older_pays, "update-key")
            assert P.INS_PK_KEY_OBTAIN not in trace.ins
            ok(f"{NAMES[scheme]} equal update keys: update-key roll, older card {PAYS[older_pays]}")
    # Fig. 17 after Fig. 18: a card that took generation 2 of the update key over the
    # public-key path now rolls with a generation-2 card over the fast path.
    old = card(P.SCHEME_HYBRID_UPDATE, tk=1, uk=1)
    mid = card(P.SCHEME_HYBRID_UPDATE, tk=2, uk=2)
    roll_and_pay(old, mid, True, "public-key")
    newest = card(P.SCHEME_HYBRID_UPDATE, tk=3, uk=2)
    roll_and_pay(old, newest, False, "update-key")
    assert reloaded(old).transfer_key_id == 3
    ok("hybrid-update: public-key roll of both keys, then fast path with the new update key")
    # mixed schemes sharing an update key take the fast path
    roll_and_pay(card(P.SCHEME_SYMMETRIC, tk=1, uk=1), card(P.SCHEME_HYBRID, tk=2, uk=1), True,
                 "update-key")
    # no shared path: refused at S1003 with both schemes named
    e = refused(card(P.SCHEME_SYMMETRIC, tk=1), card(P.SCHEME_PKI, tk=2), text="share no way")
    assert "symmetric" in str(e) and "pki" in str(e)
    refused(card(P.SCHEME_SYMMETRIC, tk=1, uk=1), card(P.SCHEME_HYBRID, tk=2, uk=2),
            text="share no way")
    ok("mixed schemes: fast path with a shared update key, refused without one")


def preloaded_embodiment():
    for older_pays in (True, False):
        old = card(P.SCHEME_PRELOADED, tk=1, preloaded=(1, 2, 3))
        new = card(P.SCHEME_PRELOADED, tk=3, preloaded=(1, 2, 3))
        r, trace = roll_and_pay(old, new, older_pays, "preloaded")
        assert "S6006" in r["steps"]
        assert P.INS_KEY_ACTIVATE in trace.ins and P.INS_KEY_OBTAIN not in trace.ins
        for key in TRANSFER_KEYS.values():  # S6102B: no key material crosses the air
            assert key not in trace.bytes
        assert sorted(preloaded(reloaded(old))) == [1, 2, 3]
        ok(f"preloaded roll moves only the active ID, older card {PAYS[older_pays]}")
    # a symmetric card with the same update key can vouch for the ID too
    old = card(P.SCHEME_PRELOADED, tk=1, preloaded=(1, 2))
    roll_and_pay(old, card(P.SCHEME_SYMMETRIC, tk=2), True, "preloaded")
    # S6104A: an ID the card does not hold
    old = card(P.SCHEME_PRELOADED, tk=1, preloaded=(1, 2))
    new = card(P.SCHEME_PRELOADED, tk=3, preloaded=(1, 2, 3))
    refused(old, new, P.SW_NOT_FOUND, "holds no pre-loaded transfer key 3")
    assert reloaded(old).transfer_key_id == 1 and reloaded(old).purses[MONEY][0] == 1000
    ok("preloaded card refuses an ID it does not hold")
    # different update keys: the activation cannot be checked
    refused(card(P.SCHEME_PRELOADED, tk=1, uk=1, preloaded=(1, 2)),
            card(P.SCHEME_PRELOADED, tk=2, uk=2, preloaded=(1, 2)), text="update key IDs differ")
    # a pre-loaded card never lets its transfer key out under the update key
    new = card(P.SCHEME_PRELOADED, tk=2, preloaded=(1, 2))
    new.process(SELECT)
    _, sw = cmd(new, P.INS_KEY_OBTAIN, encode(P.TAG_UPDATE_RANDOM, bytes(16))
                + encode(P.TAG_PEER_ID, card_id(250)))
    assert sw == P.SW_WRONG_STATE, hex(sw)
    ok("preloaded card: different update keys refused, KEY OBTAIN refused")


def _activate(target, source_id, new_id, tag, uk_id=1):
    return cmd(target, P.INS_KEY_ACTIVATE, encode(P.TAG_PEER_ID, source_id)
               + uint(P.TAG_TRANSFER_KEY_ID, new_id, 2) + uint(P.TAG_UPDATE_KEY_ID, uk_id, 2)
               + encode(P.TAG_MAC, tag))


def preloaded_ids():
    """S6103A/S6104A at the APDU level: MAC, freshness, ID limits and holdings."""
    src = card_id(251)

    def attempt(target, new_id, forge=False, random=None):
        info = parse(target.process(SELECT)[:-2])
        rnd = random if random is not None else bytes(info[P.TAG_UPDATE_RANDOM])
        tag = activation(UPDATE_KEYS[1], rnd, target.state.card_id, src, new_id, 1)
        if forge:
            tag = bytes((tag[0] ^ 1,)) + tag[1:]
        return _activate(target, src, new_id, tag)[1], rnd

    t = card(P.SCHEME_PRELOADED, tk=2, limit=4, preloaded=(1, 2, 3, 4, 5))
    assert attempt(t, 1)[0] == P.SW_KEY_ID_REFUSED  # below
    assert attempt(t, 2)[0] == P.SW_KEY_ID_REFUSED  # equal: not newer
    assert attempt(t, 5)[0] == P.SW_KEY_ID_REFUSED  # above the upper limit, though held
    assert attempt(t, 3, forge=True)[0] == P.SW_SECURITY
    sw, old_random = attempt(t, 4)  # at the upper limit
    assert sw == OK and reloaded(t).transfer_key_id == 4
    assert reloaded(t).transfer_key == TRANSFER_KEYS[4]
    t2 = card(P.SCHEME_PRELOADED, tk=1, preloaded=(1, 2, 3))
    assert attempt(t2, 3, random=old_random)[0] == P.SW_SECURITY  # replayed for another random
    assert _activate(t2, src, 3, bytes(16))[1] == P.SW_WRONG_STATE  # random already used
    t3 = card(P.SCHEME_PRELOADED, tk=1, preloaded=(1, 3))
    assert attempt(t3, 2)[0] == P.SW_NOT_FOUND
    ok("preloaded IDs: below, equal, above the limit, at the limit, not held; forged, replayed")


# -- CRL -----------------------------------------------------------------------------------------

def signed_crl(sequence, revoked, key=CA_KEY):
    content = crl.content(CA_REFERENCE, sequence, DATE, revoked)
    return crl.assemble(content, p256.sign(key, sha256(content).digest()))


def revocation():
    for scheme in (P.SCHEME_SYMMETRIC, P.SCHEME_PKI):
        bad = card(scheme, tk=1)
        good = card(scheme, tk=2)
        path = ROOT + "/crl-" + NAMES[scheme]
        holder = CrlHolder(ca_public_key(), CA_REFERENCE, path)
        assert holder.offer(signed_crl(2, [bad.state.card_id, card_id(99)]))
        for payer, payee, label in ((bad, good, "A"), (good, bad, "B")):
            e = refused(payer, payee, crl=holder,
                        text=f"card {label} ({bad.state.card_id.hex()}) is revoked (CRL 2)")
            assert isinstance(e, RevokedCard) and e.card_id == bad.state.card_id
        assert reloaded(bad).transfer_key_id == 1  # no key roll either
        assert reloaded(bad).purses[MONEY][0] == reloaded(good).purses[MONEY][0] == 1000
        ok(f"{NAMES[scheme]}: revoked card refused by identity, in both roles, before key roll")
    # bytes and a CA key instead of a holder
    refused(bad, good, crl=signed_crl(1, [bad.state.card_id]), ca_public_key=ca_public_key(),
            text="is revoked (CRL 1)")
    # never back to an older list; a restarted terminal keeps the newest
    assert not holder.offer(signed_crl(1, []))
    assert bad.state.card_id in holder.revoked and holder.sequence == 2
    again = CrlHolder(ca_public_key(), CA_REFERENCE, path)
    assert again.sequence == 2 and not again.offer(signed_crl(2, []))
    assert again.offer(signed_crl(3, []))  # reinstated by a newer list
    settle(bad, good, MONEY, 5, DATE, crl=again)
    try:
        again.offer(signed_crl(9, [], key=OTHER_CA_KEY))
        raise AssertionError("CRL of another CA taken")
    except cvc.CertificateError:
        pass
    assert again.sequence == 3
    ok("CRL holder: no rollback, survives a restart, refuses another CA's list")


# -- certificates --------------------------------------------------------------------------------

def certificates():
    for dates, text in (((20200101, 20251231), "expired on 2025-12-31"),
                        ((20270101, 20301231), "not valid before 2027-01-01")):
        for older_pays in (True, False):
            odd = card(P.SCHEME_PKI, tk=1, cert={"effective": dates[0], "expiration": dates[1]})
            new = card(P.SCHEME_PKI, tk=2)
            payer, payee = (odd, new) if older_pays else (new, odd)
            refused(payer, payee, text=text)
            assert reloaded(odd).transfer_key_id == 1
        # the cards enforce it themselves, whatever a terminal says: as target and as source
        new.process(SELECT)
        _, sw = cmd(new, P.INS_PK_UPDATE_PERMISSION, cert_of(odd)
                    + uint(P.TAG_DATE, DATE, 4))
        assert sw == P.SW_DATE_REFUSED, hex(sw)
        _, sw = cmd(new, P.INS_PK_KEY_OBTAIN, cert_of(odd)
                    + encode(P.TAG_UPDATE_RANDOM, bytes(16)) + uint(P.TAG_DATE, DATE, 4))
        assert sw == P.SW_DATE_REFUSED, hex(sw)
        ok(f"certificate {text.split(' on')[0]}: refused by the terminal and by the cards")
    # a date before the card's last transaction is refused (a card has no clock)
    t = card(P.SCHEME_PKI, tk=1)
    t.process(SELECT)
    assert cmd(t, P.INS_PK_UPDATE_PERMISSION, cert_of(new)
               + uint(P.TAG_DATE, 20301231 + 1, 4))[1] == P.SW_DATE_REFUSED
    # a certificate of another CA, with or without the same CA reference
    for cert in ({"ca_key": OTHER_CA_KEY}, {"ca_key": OTHER_CA_KEY, "car": b"ZZOTHER000001"}):
        for older_pays in (True, False):
            alien = card(P.SCHEME_PKI, tk=1, cert=cert)
            new = card(P.SCHEME_PKI, tk=2)
            payer, payee = (alien, new) if older_pays else (new, alien)
            e = refused(payer, payee, P.SW_SECURITY)
            assert e.step in ("S3004", "S3005"), e.step
            assert reloaded(alien).transfer_key_id == 1
    ok("certificate of another CA refused by the peer card (target and source)")
    # a card showing another card's certificate: the terminal refuses, and a card refuses
    # its own identity as a peer
    liar, honest = card(P.SCHEME_PKI, tk=1), card(P.SCHEME_PKI, tk=2)
    refused(Impostor(liar, honest), honest, text="certificate names another card")
    liar.process(SELECT)
    assert cmd(liar, P.INS_PK_UPDATE_PERMISSION, cert_of(liar)
               + uint(P.TAG_DATE, DATE, 4))[1] == P.SW_WRONG_DATA
    ok("certificate of another card refused by the terminal; own certificate by the card")


class Impostor:
    """A card channel that answers GET KEY INFO with another card's certificate."""

    def __init__(self, applet, other):
        self.applet = applet
        self.other = other

    def transmit(self, apdu):
        if apdu[1] == P.INS_GET_KEY_INFO:
            return self.other.process(apdu)
        return self.applet.process(apdu)


# -- the public-key messages, one check at a time --------------------------------------------------

def permission(target, source, date=DATE):
    target.process(SELECT)
    data, sw = cmd(target, P.INS_PK_UPDATE_PERMISSION, cert_of(source)
                   + uint(P.TAG_DATE, date, 4))
    assert sw == OK, hex(sw)
    return bytes(parse(data)[P.TAG_UPDATE_RANDOM])


def sealed(target, source, rnd, keys):
    """What the source card would answer at S3102B/S3103B, made with its own key."""
    t = cvc.parse(cert_of(target))
    return pkroll.seal(secret_of(source), t.public_key, t.chr,
                       cvc.holder(source.state.card_id), rnd, keys)


def resign(target, source, rnd, eph, wrapped):
    t = cvc.parse(cert_of(target))
    return p256.sign(secret_of(source),
                     pkroll.digest(rnd, t.chr, cvc.holder(source.state.card_id), eph, wrapped))


def update(target, eph, wrapped, sig):
    return cmd(target, P.INS_PK_KEY_UPDATE, encode(P.TAG_CV_PUBLIC_KEY, encode(P.TAG_CV_POINT, eph))
               + encode(P.TAG_WRAPPED_KEY, wrapped) + encode(P.TAG_CV_SIGNATURE, sig))


def eph_of(fields):
    """The ephemeral point of a PK KEY OBTAIN response (a 7F49 template holding 86)."""
    return bytes(parse(fields[P.TAG_CV_PUBLIC_KEY])[P.TAG_CV_POINT])


def messages():
    target = card(P.SCHEME_HYBRID_UPDATE, tk=2, uk=2, limit=5, update_key_limit=4)
    source = card(P.SCHEME_HYBRID_UPDATE, tk=3, uk=3)
    keys = pkroll.payload(3, TRANSFER_KEYS[3])

    def unchanged():
        s = reloaded(target)
        return (s.transfer_key_id, s.update_key_id) == (2, 2) and s.transfer_key == TRANSFER_KEYS[2]

    rnd = permission(target, source)
    eph, wrapped, sig, _ = sealed(target, source, rnd, keys)
    forged = sig[:63] + bytes((sig[63] ^ 1,))
    assert update(target, eph, wrapped, forged)[1] == P.SW_SECURITY and unchanged()
    rnd = permission(target, source)
    other = p256.sign(sha256(b"not the source").digest(), pkroll.digest(
        rnd, cvc.holder(target.state.card_id), cvc.holder(source.state.card_id), eph, wrapped))
    assert update(target, eph, wrapped, other)[1] == P.SW_SECURITY and unchanged()
    ok("forged signature refused (S3103A)")
    old = sealed(target, source, permission(target, source), keys)
    permission(target, source)  # a new update random: the old message is stale
    assert update(target, *old[:3])[1] == P.SW_SECURITY and unchanged()
    assert update(target, *old[:3])[1] == P.SW_WRONG_STATE  # random used up by the try
    rnd = permission(target, source)
    target.process(SELECT)  # a new session forgets the peer
    assert update(target, *sealed(target, source, rnd, keys)[:3])[1] == P.SW_WRONG_STATE
    rnd = permission(target, source)
    _, sw = cmd(target, P.INS_KEY_UPDATE, encode(P.TAG_PEER_ID, source.state.card_id)
                + uint(P.TAG_TRANSFER_KEY_ID, 3, 2) + uint(P.TAG_UPDATE_KEY_ID, 2, 2)
                + encode(P.TAG_WRAPPED_KEY, bytes(24)))  # one try on the fast path...
    assert sw == P.SW_SECURITY
    assert update(target, *sealed(target, source, rnd, keys)[:3])[1] == P.SW_WRONG_STATE
    permission(target, source)
    data, sw = cmd(target, P.INS_KEY_UPDATE_PERMISSION)  # a fast-path random replaces it
    rnd = bytes(parse(data)[P.TAG_UPDATE_RANDOM])
    assert update(target, *sealed(target, source, rnd, keys)[:3])[1] == P.SW_WRONG_STATE
    assert unchanged()
    ok("replayed signature refused: stale random, used random, new session, other path")
    rnd = permission(target, source)
    eph, wrapped, _, _ = sealed(target, source, rnd, keys)
    bad = wrapped[:5] + bytes((wrapped[5] ^ 0x10,)) + wrapped[6:]
    assert update(target, eph, bad, resign(target, source, rnd, eph, bad))[1] == P.SW_SECURITY
    rnd = permission(target, source)
    eph, wrapped, _, _ = sealed(target, source, rnd, keys)
    off_curve = eph[:64] + bytes((eph[64] ^ 1,))
    assert update(target, off_curve, wrapped,
                  resign(target, source, rnd, off_curve, wrapped))[1] == P.SW_SECURITY
    assert unchanged()
    ok("tampered ciphertext and ephemeral key refused even when signed (S3104A)")

    def roll(tk_id, uk_id=0, update_key=None):
        rnd = permission(target, source)
        data = pkroll.payload(tk_id, TRANSFER_KEYS[tk_id], uk_id, update_key)
        return update(target, *sealed(target, source, rnd, data)[:3])[1]

    for tk_id in (1, 2, 6):  # below, equal, above the upper limit of transfer key ID (5)
        assert roll(tk_id) == P.SW_KEY_ID_REFUSED and unchanged()
    assert roll(3, 5, UPDATE_KEYS[5]) == P.SW_KEY_ID_REFUSED and unchanged()  # uk above 4
    assert roll(3, 1, UPDATE_KEYS[1]) == OK  # an older update key is not taken
    s = reloaded(target)
    assert (s.transfer_key_id, s.update_key_id, s.update_key) == (3, 2, UPDATE_KEYS[2])
    assert roll(4, 4, UPDATE_KEYS[4]) == OK  # both at their upper limits
    s = reloaded(target)
    assert (s.transfer_key_id, s.update_key_id, s.update_key) == (4, 4, UPDATE_KEYS[4])
    assert roll(5) == OK and reloaded(target).transfer_key_id == 5  # at the limit, no uk
    ok("key IDs below, equal, above and at their upper limits (S3105A, S8105A)")
    # key confirmation: the source checks the target's receipt
    t = card(P.SCHEME_PKI, tk=1)
    for flip in (1, 0):
        rnd = permission(t, source)
        data, sw = cmd(source, P.INS_PK_KEY_OBTAIN, cert_of(t)
                       + encode(P.TAG_UPDATE_RANDOM, rnd) + uint(P.TAG_DATE, DATE, 4))
        assert sw == OK
        f = parse(data)
        if flip:  # an unsigned ciphertext is refused before any key is touched
            wr = bytes(f[P.TAG_WRAPPED_KEY])
            assert update(t, eph_of(f), wr[:-1] + bytes((wr[-1] ^ 1,)),
                          f[P.TAG_CV_SIGNATURE])[1] == P.SW_SECURITY
            assert cmd(source, P.INS_PK_KEY_CONFIRM, encode(P.TAG_MAC, bytes(16)))[1] \
                == P.SW_SECURITY
            continue
        done, sw = update(t, eph_of(f), f[P.TAG_WRAPPED_KEY],
                          f[P.TAG_CV_SIGNATURE])
        assert sw == OK
        receipt = bytes(parse(done)[P.TAG_MAC])
        assert cmd(source, P.INS_PK_KEY_CONFIRM, encode(P.TAG_MAC, receipt))[1] == OK
        assert cmd(source, P.INS_PK_KEY_CONFIRM, encode(P.TAG_MAC, receipt))[1] \
            == P.SW_WRONG_STATE  # single use
    ok("key confirmation: receipt checked once by the source")


def personalization():
    # GENERATE KEY once only; LOCK refuses a certificate for another key
    from cards import ISSUER_PERSO_KEY, certify, profile

    from common import perso

    _n[0] += 1
    cid = card_id(_n[0])
    key = perso.diversify(ISSUER_PERSO_KEY, cid)
    applet = Applet(Store(ROOT + "/card" + str(_n[0])))
    for apdu in perso.setup_commands(cid, key):
        assert applet.process(apdu)[-2:] == b"\x90\x00"
    resp = applet.process(perso.generate_key(key, 0))
    assert perso.public_key_of(key, 0, resp[:-2]) is not None
    assert perso.public_key_of(key, 1, resp[:-2]) is None  # MAC bound to the counter
    assert applet.process(perso.generate_key(key, 1))[-2:] == b"\x69\x85"
    _, stranger = p256.generate()
    prof = profile(scheme=P.SCHEME_PKI)
    prof["extra"] = perso.pki_parts(ca_public_key(), certify(cid, stranger))
    apdus = perso.commands(cid, key, prof, counter=1, setup=False)
    for apdu in apdus[:-1]:
        assert applet.process(apdu)[-2:] == b"\x90\x00"
    assert applet.process(apdus[-1])[-2:] == b"\x69\x85"  # LOCK: not this card's key
    _n[0] += 1  # a pre-loaded card must hold its active transfer key among its keys
    cid = card_id(_n[0])
    key = perso.diversify(ISSUER_PERSO_KEY, cid)
    applet = Applet(Store(ROOT + "/card" + str(_n[0])))
    prof = profile(scheme=P.SCHEME_PRELOADED, transfer_key_id=1)
    prof["extra"] = perso.pki_parts(preloaded={2: TRANSFER_KEYS[2]})
    apdus = perso.commands(cid, key, prof)
    for apdu in apdus[:-1]:
        assert applet.process(apdu)[-2:] == b"\x90\x00"
    assert applet.process(apdus[-1])[-2:] == b"\x69\x85"
    ok("personalization: one key pair per card, LOCK checks the certificate")


public_key_embodiments()
update_key_embodiments()
preloaded_embodiment()
preloaded_ids()
revocation()
certificates()
messages()
personalization()
print("OK embodiments", checks[0], "checks")
