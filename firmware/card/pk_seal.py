"""Card B's side of the public-key roll: PK KEY OBTAIN (S3102B, S3103B), PK KEY CONFIRM.

See card/pki.py for the roll and for why the code comes and goes.
"""
from card.applet import check
from card.fields import T_SECRET_KEY, field
from card.pki import SOURCE
from card.transient import loaded, unload
from common import proto as P
from common.cmac import equal
from common.tlv import encode, need, parse, uint


def pk_key_obtain(applet, p1, data):
    """S3102B: check card A's certificate, seal our transfer key (scheme 5: and update key)
    with their IDs to A's key; S3103B: sign it with A's update random."""
    applet.pk_session = None
    f = parse(data)
    update_random = need(f, P.TAG_UPDATE_RANDOM, P.RANDOM_LEN)
    keep = loaded()
    s, own_chr, peer_chr, peer_key = _peer(applet, f)
    unload(keep)  # the certificate check's code goes before the seal's comes
    from common import pkroll

    if s.scheme == P.SCHEME_HYBRID_UPDATE:
        keys = pkroll.payload(s.transfer_key_id, s.transfer_key, s.update_key_id, s.update_key)
    else:
        keys = pkroll.payload(s.transfer_key_id, s.transfer_key)
    eph, wrapped, sig, receipt = pkroll.seal(field(s, T_SECRET_KEY), peer_key, peer_chr, own_chr,
                                             update_random, keys)
    applet.pk_session = (SOURCE, receipt)
    return (encode(P.TAG_CARD_ID, s.card_id) + uint(P.TAG_TRANSFER_KEY_ID, s.transfer_key_id, 2)
            + encode(P.TAG_CV_PUBLIC_KEY, encode(P.TAG_CV_POINT, eph))
            + encode(P.TAG_WRAPPED_KEY, wrapped)
            + encode(P.TAG_CV_SIGNATURE, sig))


def _peer(applet, f):
    """(state, our CHR, A's CHR, A's public key), A's certificate checked (card/pk_peer.py):
    in a frame of its own, so that no stale slot of the caller's keeps that code alive."""
    from card.pk_peer import card, peer

    s, date = card(applet, f)
    return (s,) + peer(s, f, date)


def pk_key_confirm(applet, p1, data):
    """Key confirmation (SCP11's receipt): card A opened and installed what we sealed."""
    session = getattr(applet, "pk_session", None)
    applet.pk_session = None
    receipt = need(parse(data), P.TAG_MAC, P.MAC_LEN)
    check(session is not None and session[0] == SOURCE, P.SW_WRONG_STATE)
    check(equal(session[1], receipt), P.SW_SECURITY)
    return b""
