"""Card side of key information and of pre-loaded transfer keys (seed Fig. 13, 14).

Loaded for each of its commands and forgotten after (card/transient.py): a card meets these
commands only when its keys roll. The heavy public-key commands live in card/pki.py, the state
fields of embodiments 2-5 in card/fields.py (imported from here as before).
"""
from micropython import const

from card.applet import check
from card.fields import T_CA_KEY, T_CERTIFICATE, T_PRELOADED, T_SECRET_KEY, field, set_field
from card.transient import transient
from common import proto as P
from common.cmac import cmac, equal
from common.kdf import derive
from common.tlv import encode, need, parse, uint

_PK_SCHEMES = (P.SCHEME_PKI, P.SCHEME_HYBRID, P.SCHEME_HYBRID_UPDATE)
_POINT_LEN = const(65)
_RECORD = const(18)  # one pre-loaded key: ID and key


def preloaded(s):
    """Scheme 4 (Fig. 13): {transfer key ID: pre-loaded transfer key}."""
    raw = field(s, T_PRELOADED) or b""
    return {int.from_bytes(raw[i : i + 2], "big"): raw[i + 2 : i + _RECORD]
            for i in range(0, len(raw), _RECORD)}


def add_preloaded(s, key_id, key):
    """Personalization: one more pre-loaded transfer key (a repeated ID replaces the key)."""
    keys = preloaded(s)
    keys[key_id] = bytes(key)
    set_field(s, T_PRELOADED, b"".join(i.to_bytes(2, "big") + k for i, k in sorted(keys.items())))


def get_key_info(applet, p1, data):
    """S3101A/B (seed S3002): the card public key certificate and the key ID limits; for a
    pre-loaded card (S6101A), the IDs of the transfer keys it holds, which the terminal may
    make active."""
    check(not data, P.SW_WRONG_LENGTH)
    s = applet.state
    out = (uint(P.TAG_TRANSFER_KEY_LIMIT, s.transfer_key_limit, 2)
           + uint(P.TAG_UPDATE_KEY_LIMIT, s.update_key_limit, 2))
    for key_id in sorted(preloaded(s)):  # the IDs only: the keys never leave the card
        out += encode(P.TAG_PRELOADED_KEY, uint(P.TAG_TRANSFER_KEY_ID, key_id, 2))
    cert = field(s, T_CERTIFICATE)
    return out + cert if cert else out


def complete(s):
    """True if a card of a public-key or pre-loaded scheme holds everything its scheme needs
    (LOCK calls this): for public-key schemes, a CA key and a certificate for this card's
    identity and for its own key pair, signed by that CA."""
    if s.scheme == P.SCHEME_PRELOADED:
        return preloaded(s).get(s.transfer_key_id) == s.transfer_key
    if s.scheme not in _PK_SCHEMES:
        return False
    secret, cert, ca = field(s, T_SECRET_KEY), field(s, T_CERTIFICATE), field(s, T_CA_KEY)
    if not (secret and cert and ca and len(ca) == _POINT_LEN):
        return False
    from common import cvc, p256

    try:
        c = cvc.parse(cert)
        cvc.check_signature(ca, c.body, c.signature)
    except ValueError:
        return False
    return c.chr == cvc.holder(s.card_id) and c.public_key == p256.public_key(secret)


def activation(update_key, update_random, target_id, source_id, transfer_key_id, update_key_id):
    """S6102B, checked in S6103A: a pre-loaded card's new active transfer key ID, authenticated
    under the update key. A CMAC under a key derived (SP 800-108) over the target's update
    random, both identities and both IDs: fresh, bound to this pair, and no key material
    crosses the air."""
    context = (bytes(update_random) + bytes(target_id) + bytes(source_id)
               + transfer_key_id.to_bytes(2, "big") + update_key_id.to_bytes(2, "big"))
    return cmac(derive(update_key, b"upurse key activation", context), b"KA")


def _update_key_card(s):
    check(s.scheme != P.SCHEME_PKI and s.update_key is not None, P.SW_WRONG_STATE)


def key_activation_obtain(applet, p1, data):
    """S6102B: this card's transfer key ID, authenticated under the update key for the target
    card's update random number. No key material leaves the card."""
    f = parse(data)
    update_random = need(f, P.TAG_UPDATE_RANDOM, P.RANDOM_LEN)
    target_id = bytes(need(f, P.TAG_PEER_ID, P.CARD_ID_LEN))
    s = applet.state
    _update_key_card(s)
    check(target_id != s.card_id, P.SW_WRONG_DATA)
    tag = activation(s.update_key, update_random, target_id, s.card_id, s.transfer_key_id,
                     s.update_key_id)
    return (encode(P.TAG_CARD_ID, s.card_id) + uint(P.TAG_TRANSFER_KEY_ID, s.transfer_key_id, 2)
            + uint(P.TAG_UPDATE_KEY_ID, s.update_key_id, 2) + encode(P.TAG_MAC, tag))


def key_activate(applet, p1, data):
    """S6103A: check the activation against our update random; S6104A: the new ID must be
    newer, not above the upper limit of transfer key ID, and one of the pre-loaded keys."""
    s = applet.state
    source_id, new_id, update_key_id, tag, update_random = applet.key_request(
        data, P.TAG_MAC, P.MAC_LEN, s.scheme == P.SCHEME_PRELOADED)
    check(equal(activation(s.update_key, update_random, s.card_id, source_id, new_id,
                           update_key_id), tag), P.SW_SECURITY)
    check(s.transfer_key_id < new_id <= s.transfer_key_limit, P.SW_KEY_ID_REFUSED)
    key = preloaded(s).get(new_id)
    check(key is not None, P.SW_NOT_FOUND)
    return applet.install_transfer_key(new_id, key)


HANDLERS = transient(__name__, {
    P.INS_GET_KEY_INFO: get_key_info,
    P.INS_KEY_ACTIVATION_OBTAIN: key_activation_obtain,
    P.INS_KEY_ACTIVATE: key_activate,
})
