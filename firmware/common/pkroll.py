"""Keys carried card to card under public-key cryptography (seed Fig. 7, 11, 18; docs/pki.md).

Built as GlobalPlatform SCP11 builds its session keys (GPC v2.3 Amendment F): the source card
B makes an ephemeral P-256 key pair and does ECDH with the target card A's certificate key
(ephemeral-static, as SCP11b); the ANSI X9.63 KDF with SHA-256 turns the shared X into a
receipt key and a key-encryption key, its shared info binding key usage, key type and length
and both card holder references (CHRs); the key data is AES-key-wrapped (RFC 3394) under the
KEK. B signs (ECDSA P-256, its card secret key) A's update random number, both CHRs, the
ephemeral key and the wrapped data (S3103B); A verifies that with B's certificate key
(S3103A), unwraps with its own secret key (S3104A) and answers a CMAC receipt under the
receipt key (SCP11's key confirmation), which B checks.

    eph, wrapped, sig, receipt = seal(b_priv, a_pub, a_chr, b_chr, a_random, payload(2, tk))
    payload_, receipt_key = open_(a_priv, a_chr, b_chr, eph, wrapped)
"""
import hashlib

from micropython import const

from common import p256
from common.cmac import cmac
from common.keywrap import unwrap, wrap
from common.tlv import encode
from common.x963 import derive

_KEY_USAGE = const(0x5C)  # ours: key transport between cards (SCP11 uses 3C for its session)
_KEY_TYPE = const(0x88)  # AES (GPC Amendment F, as SCP11)
_KEY_LEN = const(16)  # AES-128
_TAG_CHR = const(0x5F20)
_IDS_LEN = const(8)  # transfer key ID (2), update key ID (2), reserved (4): one key-wrap block
_SIGNED = b"upurse pk key roll"
_RECEIPT = b"upurse pk receipt"


def shared_info(target_chr, source_chr):
    """X9.63 SharedInfo: key usage, key type, key length, then both CHRs as 5F20 TLVs."""
    return (bytes((_KEY_USAGE, _KEY_TYPE, _KEY_LEN)) + encode(_TAG_CHR, target_chr)
            + encode(_TAG_CHR, source_chr))


def _keys(z, target_chr, source_chr):
    """(receipt key, key-encryption key), in SCP11's order: the receipt key first."""
    k = derive(z, shared_info(target_chr, source_chr), 2 * _KEY_LEN)
    return k[:_KEY_LEN], k[_KEY_LEN:]


def payload(transfer_key_id, transfer_key, update_key_id=0, update_key=None):
    """The key data: IDs in the first block, the transfer key, then (scheme 5) the update key."""
    ids = transfer_key_id.to_bytes(2, "big") + update_key_id.to_bytes(2, "big") + bytes(4)
    return ids + bytes(transfer_key) + (bytes(update_key) if update_key is not None else b"")


def split(data):
    """(transfer key ID, transfer key, update key ID, update key or None); ValueError if
    the key data has another shape."""
    n = len(data)
    if n not in (_IDS_LEN + _KEY_LEN, _IDS_LEN + 2 * _KEY_LEN) or data[4:8] != bytes(4):
        raise ValueError("key data")
    uk = bytes(data[24:40]) if n > 24 else None
    return (int.from_bytes(data[0:2], "big"), bytes(data[8:24]), int.from_bytes(data[2:4], "big"),
            uk)


def digest(update_random, target_chr, source_chr, ephemeral, wrapped):
    """What B signs (S3103B): A's update random, both CHRs, the ephemeral key, the cryptogram."""
    h = hashlib.sha256(_SIGNED)
    h.update(update_random)
    h.update(encode(_TAG_CHR, target_chr))
    h.update(encode(_TAG_CHR, source_chr))
    h.update(ephemeral)
    h.update(wrapped)
    return h.digest()


def receipt(receipt_key, ephemeral, data):
    """Key confirmation: CMAC over the ephemeral key and the key IDs A opened and installed."""
    return cmac(receipt_key, _RECEIPT + bytes(ephemeral) + bytes(data[:_IDS_LEN]))


def seal(source_priv, target_pub, target_chr, source_chr, update_random, data):
    """S3102B, S3103B: (ephemeral key, wrapped key data, signature, expected receipt).

    `target_pub` must come from a certificate the caller has verified.
    """
    eph_priv, eph_pub = p256.generate()
    receipt_key, kek = _keys(p256.ecdh(eph_priv, target_pub), target_chr, source_chr)
    eph_priv = None
    wrapped = wrap(kek, data)
    sig = p256.sign(source_priv, digest(update_random, target_chr, source_chr, eph_pub, wrapped))
    return eph_pub, wrapped, sig, receipt(receipt_key, eph_pub, data)


def verify(source_pub, update_random, target_chr, source_chr, ephemeral, wrapped, signature):
    """S3103A: True if the source card signed this cryptogram for this update random."""
    return p256.verify(source_pub, digest(update_random, target_chr, source_chr, ephemeral,
                                          wrapped), signature)


def open_(target_priv, target_chr, source_chr, ephemeral, wrapped):
    """S3104A: (key data, receipt key), or None when the ephemeral key is no curve point or
    the key wrap's integrity check fails."""
    try:
        z = p256.ecdh(target_priv, ephemeral)
    except ValueError:
        return None
    receipt_key, kek = _keys(z, target_chr, source_chr)
    data = unwrap(kek, wrapped)
    return None if data is None else (data, receipt_key)
