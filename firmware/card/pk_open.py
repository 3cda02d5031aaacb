"""Card A's side of the public-key roll: PK KEY UPDATE (S3103A to S3105A).

See card/pki.py for the roll and for why the code comes and goes.
"""
from micropython import const

from card.applet import Reject, check
from card.fields import T_SECRET_KEY, field
from card.pki import PK_SCHEMES, TARGET
from card.transient import loaded, unload
from common import proto as P
from common.tlv import encode, need, parse, uint

_POINT_LEN = const(65)
_SIGNATURE_LEN = const(64)
_RESULT = const(52)  # _open's: transfer key 16, update key 16, receipt 16, their IDs 2 + 2


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
    check(session is not None and session[0] == TARGET and update_random is not None
          and session[1] == update_random, P.SW_WRONG_STATE)
    s = applet.state
    check(s.scheme in PK_SCHEMES, P.SW_WRONG_STATE)
    # The results go to a buffer made before the crypto, so that nothing made during it stays:
    # the state record built next needs one block of ~1 KB, which crypto leftovers scattered
    # over the heap would cut up.
    out = bytearray(_RESULT)
    keep = loaded()
    with_update_key = _open(s, session, update_random, eph, wrapped, sig, out)
    unload(keep)  # and the crypto code goes too
    tk, uk, receipt = bytes(out[:16]), bytes(out[16:32]), bytes(out[32:48])
    tk_id, uk_id = int.from_bytes(out[48:50], "big"), int.from_bytes(out[50:52], "big")
    if not with_update_key:
        uk = None
    check(s.transfer_key_id < tk_id <= s.transfer_key_limit, P.SW_KEY_ID_REFUSED)
    take_update_key = (uk is not None and s.scheme == P.SCHEME_HYBRID_UPDATE
                       and uk_id > s.update_key_id)
    check(not take_update_key or uk_id <= s.update_key_limit, P.SW_KEY_ID_REFUSED)
    s.roll_transfer_key(tk_id, tk)
    if take_update_key:
        s.update_key_id, s.update_key = uk_id, uk
    applet.save()
    return (encode(P.TAG_MAC, receipt) + uint(P.TAG_TRANSFER_KEY_ID, tk_id, 2)
            + uint(P.TAG_UPDATE_KEY_ID, s.update_key_id, 2))


def _open(s, session, update_random, eph, wrapped, sig, out):
    """S3103A, S3104A: the key data B sealed to us, its signature checked, into `out` as
    _RESULT lays it out, with the receipt; True if it holds an update key. A function of its
    own, so that no stale slot of the caller's frame keeps the crypto code alive."""
    from common import pkroll

    own_chr, peer_chr, peer_key = session[2:]
    keep = loaded()
    ok = pkroll.verify(peer_key, update_random, own_chr, peer_chr, eph, wrapped, sig)
    unload(keep)  # verification's code goes before ECDH's comes
    check(ok, P.SW_SECURITY)
    opened = pkroll.open_(field(s, T_SECRET_KEY), own_chr, peer_chr, eph, wrapped)
    check(opened is not None, P.SW_SECURITY)
    keys, receipt_key = opened
    try:
        tk_id, tk, uk_id, uk = pkroll.split(keys)
    except ValueError:
        raise Reject(P.SW_WRONG_DATA) from None
    out[:16] = tk
    if uk is not None:
        out[16:32] = uk
    out[32:48] = pkroll.receipt(receipt_key, eph, keys)
    out[48:50] = tk_id.to_bytes(2, "big")
    out[50:52] = uk_id.to_bytes(2, "big")
    return uk is not None
