"""Card side of the public-key key roll (seed Fig. 7, 11, 18; construction in docs/pki.md).

Loaded on first use: P-256, CV certificates and the X9.63 KDF cost heap that the fast path
never pays. Card A (the target, older transfer key) and card B (the source) each run:

    A  PK UPDATE PERMISSION  S3102A  verify B's certificate; a fresh update random
    B  PK KEY OBTAIN         S3102B  verify A's certificate; keys sealed to A's key
                             S3103B  signed together with A's update random
    A  PK KEY UPDATE         S3103A  verify B's signature; S3104A open; S3105A check IDs,
                                     install; answer a receipt
    B  PK KEY CONFIRM                check A's receipt (key confirmation)

Each card checks a peer certificate against the CA public key 101, its own CA reference and
the transaction date the terminal names, which must lie between the card's last transaction
date and its term of validity (a card has no clock). The session (`applet.pk_session`: the
peer's CHR and key on the target, the expected receipt on the source) is this module's own
attribute of the applet; the target's is bound to the update random, which SELECT renews.
"""
import os

from micropython import const

from card.applet import Reject, check
from card.keys import T_CA_KEY, T_CERTIFICATE, T_SECRET_KEY, field
from common import cvc, pkroll
from common import proto as P
from common.cmac import equal
from common.tlv import encode, need, need_uint, parse, uint

_PK_SCHEMES = (P.SCHEME_PKI, P.SCHEME_HYBRID, P.SCHEME_HYBRID_UPDATE)
_TARGET = const(1)
_SOURCE = const(2)
_POINT_LEN = const(65)
_SIGNATURE_LEN = const(64)
_DATES = ("expired", "not yet valid")


def _card(applet, f):
    """This card's state, refused unless its scheme has the public-key path and the date the
    terminal names is plausible for it."""
    s = applet.state
    check(s.scheme in _PK_SCHEMES, P.SW_WRONG_STATE)
    date = need_uint(f, P.TAG_DATE, 4)
    check(s.last_date <= date <= s.validity, P.SW_DATE_REFUSED)
    return s, date


def _peer(s, f, date):
    """The peer's verified certificate (S3102A, S3102B): CA signature, our CA reference, role,
    dates; SW_DATE_REFUSED for a certificate outside its dates, SW_SECURITY for any other."""
    value = need(f, P.TAG_CV_CERTIFICATE)
    try:
        own = cvc.parse(field(s, T_CERTIFICATE))
        cert = cvc.verify(encode(P.TAG_CV_CERTIFICATE, value), field(s, T_CA_KEY), date, own.car)
    except cvc.CertificateError as e:
        raise Reject(P.SW_DATE_REFUSED if e.args[0] in _DATES else P.SW_SECURITY) from None
    check(cert.card_id != s.card_id, P.SW_WRONG_DATA)
    return cert


def pk_update_permission(applet, p1, data):
    """S3102A: check card B's certificate, keep its key for S3103A, answer an update random."""
    applet.pk_session = None
    applet.update_random = None
    f = parse(data)
    s, date = _card(applet, f)
    peer = _peer(s, f, date)
    update_random = os.urandom(P.RANDOM_LEN)
    applet.update_random = update_random
    applet.pk_session = (_TARGET, update_random, peer.chr, peer.public_key)
    return encode(P.TAG_UPDATE_RANDOM, update_random)


def pk_key_obtain(applet, p1, data):
    """S3102B: check card A's certificate, seal our transfer key (scheme 5: and update key)
    with their IDs to A's key; S3103B: sign it with A's update random."""
    applet.pk_session = None
    f = parse(data)
    update_random = need(f, P.TAG_UPDATE_RANDOM, P.RANDOM_LEN)
    s, date = _card(applet, f)
    peer = _peer(s, f, date)
    if s.scheme == P.SCHEME_HYBRID_UPDATE:
        keys = pkroll.payload(s.transfer_key_id, s.transfer_key, s.update_key_id, s.update_key)
    else:
        keys = pkroll.payload(s.transfer_key_id, s.transfer_key)
    eph, wrapped, sig, receipt = pkroll.seal(field(s, T_SECRET_KEY), peer.public_key, peer.chr,
                                             cvc.holder(s.card_id), update_random, keys)
    applet.pk_session = (_SOURCE, receipt)
    return (encode(P.TAG_CARD_ID, s.card_id) + uint(P.TAG_TRANSFER_KEY_ID, s.transfer_key_id, 2)
            + encode(P.TAG_CV_PUBLIC_KEY, encode(P.TAG_CV_POINT, eph))
            + encode(P.TAG_WRAPPED_KEY, wrapped)
            + encode(P.TAG_CV_SIGNATURE, sig))


def pk_key_update(applet, p1, data):
    """S3103A: verify B's signature over our update random; S3104A: open with our secret key;
    S3105A: transfer key ID newer and not above its upper limit (scheme 5: an update key ID
    newer than ours must not pass the upper limit of update key ID), then install."""
    session = getattr(applet, "pk_session", None)
    update_random = applet.update_random
    applet.pk_session = applet.update_random = None  # single use, whatever the outcome
    f = parse(data)
    eph = need(parse(need(f, P.TAG_CV_PUBLIC_KEY)), P.TAG_CV_POINT, _POINT_LEN)  # 7F49 { 86 }
    wrapped = need(f, P.TAG_WRAPPED_KEY)
    sig = need(f, P.TAG_CV_SIGNATURE, _SIGNATURE_LEN)
    check(session is not None and session[0] == _TARGET and update_random is not None
          and session[1] == update_random, P.SW_WRONG_STATE)
    s = applet.state
    check(s.scheme in _PK_SCHEMES, P.SW_WRONG_STATE)
    own_chr = cvc.holder(s.card_id)
    peer_chr, peer_key = session[2], session[3]
    check(pkroll.verify(peer_key, update_random, own_chr, peer_chr, eph, wrapped, sig),
          P.SW_SECURITY)
    opened = pkroll.open_(field(s, T_SECRET_KEY), own_chr, peer_chr, eph, wrapped)
    check(opened is not None, P.SW_SECURITY)
    keys, receipt_key = opened
    try:
        tk_id, tk, uk_id, uk = pkroll.split(keys)
    except ValueError:
        raise Reject(P.SW_WRONG_DATA) from None
    check(s.transfer_key_id < tk_id <= s.transfer_key_limit, P.SW_KEY_ID_REFUSED)
    take_update_key = (uk is not None and s.scheme == P.SCHEME_HYBRID_UPDATE
                       and uk_id > s.update_key_id)
    check(not take_update_key or uk_id <= s.update_key_limit, P.SW_KEY_ID_REFUSED)
    s.roll_transfer_key(tk_id, tk)
    if take_update_key:
        s.update_key_id, s.update_key = uk_id, uk
    applet.save()
    return (encode(P.TAG_MAC, pkroll.receipt(receipt_key, eph, keys))
            + uint(P.TAG_TRANSFER_KEY_ID, tk_id, 2)
            + uint(P.TAG_UPDATE_KEY_ID, s.update_key_id, 2))


def pk_key_confirm(applet, p1, data):
    """Key confirmation (SCP11's receipt): card A opened and installed what we sealed."""
    session = getattr(applet, "pk_session", None)
    applet.pk_session = None
    receipt = need(parse(data), P.TAG_MAC, P.MAC_LEN)
    check(session is not None and session[0] == _SOURCE, P.SW_WRONG_STATE)
    check(equal(session[1], receipt), P.SW_SECURITY)
    return b""


HANDLERS = {
    P.INS_PK_UPDATE_PERMISSION: pk_update_permission,
    P.INS_PK_KEY_OBTAIN: pk_key_obtain,
    P.INS_PK_KEY_UPDATE: pk_key_update,
    P.INS_PK_KEY_CONFIRM: pk_key_confirm,
}
