"""Secure messaging for personalization, shared by the issuer (seals) and the card (opens).

Like GlobalPlatform SCP03 (C-DECRYPTION + C-MAC): per-command keys are derived with SP 800-108
from the card's diversified personalization key and the card's personalization counter, the data
is padded (ISO/IEC 9797-1 method 2), AES-CBC encrypted, and a CMAC covers the command header,
the counter and the cryptogram. The counter advances with each accepted command, so no command
can be replayed.
"""
from common import proto as P
from common.aes import cbc_decrypt, cbc_encrypt
from common.apdu import command
from common.cmac import cmac, equal
from common.kdf import derive
from common.tlv import encode, items, uint


def diversify(issuer_key, card_id):
    """The card's own personalization key, from the issuer's master key and its identity."""
    return derive(issuer_key, b"upurse perso key", card_id)


def _keys(perso_key, counter):
    c = counter.to_bytes(4, "big")
    return derive(perso_key, b"upurse perso enc", c), derive(perso_key, b"upurse perso mac", c)


def seal(perso_key, counter, header, plaintext):
    enc, mac_key = _keys(perso_key, counter)
    n = len(plaintext)
    padded = bytearray(plaintext) + b"\x80" + bytes(15 - n % 16)
    cryptogram = cbc_encrypt(enc, padded)
    tag = cmac(mac_key, bytes(header) + counter.to_bytes(4, "big") + cryptogram)
    return cryptogram + tag


def open_(perso_key, counter, header, data):
    """The plaintext, or None when the MAC or the padding is wrong."""
    n = len(data) - P.MAC_LEN
    if n < 16 or n % 16:
        return None
    enc, mac_key = _keys(perso_key, counter)
    cryptogram = bytes(data[:n])
    if not equal(cmac(mac_key, bytes(header) + counter.to_bytes(4, "big") + cryptogram),
                 data[n:]):
        return None
    padded = cbc_decrypt(enc, cryptogram)
    end = len(padded) - 1
    while end >= 0 and padded[end] == 0:
        end -= 1
    if end < 0 or padded[end] != 0x80:
        return None
    return padded[:end]


# Personalization fields: tag -> (card state attribute, size); 16-byte fields are keys.
FIELDS = {
    P.TAG_TRANSFER_KEY_ID: ("transfer_key_id", 2),
    P.TAG_TRANSFER_KEY: ("transfer_key", P.KEY_LEN),
    P.TAG_TRANSFER_KEY_LIMIT: ("transfer_key_limit", 2),
    P.TAG_UPDATE_KEY_ID: ("update_key_id", 2),
    P.TAG_UPDATE_KEY: ("update_key", P.KEY_LEN),
    P.TAG_UPDATE_KEY_LIMIT: ("update_key_limit", 2),
    P.TAG_VALIDITY: ("validity", 4),
    P.TAG_SCHEME: ("scheme", 1),
    P.TAG_NOT_BEFORE: ("not_before", 4),  # the issue date: no transaction dated before it
}
_CHUNK = 176  # plaintext per PERSONALIZE command: sealed, it stays under 255 bytes


def commands(card_id, perso_key, profile, counter=0, setup=True):
    """The APDUs that personalize a blank card: SELECT, INITIALIZE, PERSONALIZE..., LOCK.

    `profile` maps FIELDS attribute names to values, plus "purses": {purse: (balance, max)}
    and "extra": more TLVs (see `pki_parts`). With `setup` False the list starts at the first
    PERSONALIZE, sealed under `counter` (after SELECT, INITIALIZE and GENERATE KEY).
    """
    parts = []
    for tag, (name, size) in FIELDS.items():
        if name in profile:
            value = profile[name]
            parts.append(encode(tag, value if size == P.KEY_LEN else value.to_bytes(size, "big")))
    for purse, (balance, maximum) in profile["purses"].items():
        parts.append(encode(P.TAG_PURSE_RECORD, uint(P.TAG_PURSE, purse, 1)
                            + uint(P.TAG_BALANCE, balance, 4)
                            + uint(P.TAG_MAX_BALANCE, maximum, 4)))
    parts.extend(profile.get("extra", ()))
    out = setup_commands(card_id, perso_key) if setup else []
    chunk = b""
    for part in parts + [None]:
        if part is None or len(chunk) + len(part) > _CHUNK:
            out.append(_sealed(perso_key, counter, P.INS_PERSONALIZE, chunk))
            counter += 1
            chunk = b""
        if part is not None:
            chunk += part
    out.append(_sealed(perso_key, counter, P.INS_LOCK, b""))
    return out


def setup_commands(card_id, perso_key):
    """SELECT and INITIALIZE: the card's identity and personalization key."""
    return [command(P.CLA_ISO, P.INS_SELECT, 4, 0, P.AID),
            command(P.CLA_PROPRIETARY, P.INS_INITIALIZE, 0, 0,
                    encode(P.TAG_CARD_ID, card_id) + encode(P.TAG_PERSO_KEY, perso_key))]


def generate_key(perso_key, counter):
    """GENERATE KEY under secure messaging: the card makes its P-256 key pair (schemes 2, 3, 5)
    and answers the public key (a 7F49 TLV) with a `response_mac`."""
    return _sealed(perso_key, counter, P.INS_GENERATE_KEY, b"")


def response_mac(perso_key, counter, data):
    """The card's MAC on a secured response, under the command's counter: the issuer
    certifies only a public key that comes from this card (like SCP03's R-MAC)."""
    return cmac(derive(perso_key, b"upurse perso rmac", counter.to_bytes(4, "big")), bytes(data))


def public_key_of(perso_key, counter, data):
    """The 65-byte point in a GENERATE KEY response whose MAC checks, else None."""
    fields = dict(items(data))
    key = fields.get(P.TAG_CV_PUBLIC_KEY)
    mac = fields.get(P.TAG_MAC)
    if key is None or mac is None:
        return None
    head = len(data) - len(mac) - 2  # the 7F49 TLV is everything before the MAC TLV
    if not equal(response_mac(perso_key, counter, data[:head]), mac):
        return None
    point = dict(items(key)).get(P.TAG_CV_POINT)
    return bytes(point) if point is not None and len(point) == 65 else None


def pki_parts(ca_public_key=None, certificate=None, preloaded=None):
    """Profile "extra" TLVs: the CA public key (a 7F49 template of its point only), the card's
    certificate as its two parts, body (7F4E) then signature (5F37), since the whole does not
    fit one secured command, and pre-loaded transfer keys."""
    out = []
    if ca_public_key is not None:
        out.append(encode(P.TAG_CV_PUBLIC_KEY, encode(P.TAG_CV_POINT, ca_public_key)))
    if certificate is not None:
        parts = dict(items(dict(items(certificate))[P.TAG_CV_CERTIFICATE]))
        out.append(encode(P.TAG_CV_BODY, parts[P.TAG_CV_BODY]))
        out.append(encode(P.TAG_CV_SIGNATURE, parts[P.TAG_CV_SIGNATURE]))
    for key_id, key in sorted((preloaded or {}).items()):
        out.append(encode(P.TAG_PRELOADED_KEY, uint(P.TAG_TRANSFER_KEY_ID, key_id, 2)
                          + encode(P.TAG_TRANSFER_KEY, key)))
    return out


def _sealed(perso_key, counter, ins, plaintext):
    header = bytes((P.CLA_PROPRIETARY, ins, 0, 0))
    return command(P.CLA_PROPRIETARY, ins, 0, 0, seal(perso_key, counter, header, plaintext))
