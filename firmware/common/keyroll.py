"""Transfer key carried under the update key (seed Fig. 3, S1005/S1102B and S1006/S1103A).

The key-encryption key is derived from the update key (SP 800-108 with AES-CMAC) over the
target card's update random number, both card identities and both key IDs; the transfer key is
then AES-key-wrapped (RFC 3394) under it. Key wrap's integrity check therefore fails unless the
wrapped key was made for this random number (freshness, S1103A), this pair of cards and these
key IDs, and by a holder of the same update key.
"""
from common.kdf import derive
from common.keywrap import unwrap, wrap


def _kek(update_key, update_random, target_id, source_id, transfer_key_id, update_key_id):
    context = (bytes(update_random) + bytes(target_id) + bytes(source_id)
               + transfer_key_id.to_bytes(2, "big") + update_key_id.to_bytes(2, "big"))
    return derive(update_key, b"upurse key roll", context)


def seal(update_key, update_random, target_id, source_id, transfer_key_id, update_key_id,
         transfer_key):
    """S1102B: the source card wraps its transfer key for the target card."""
    kek = _kek(update_key, update_random, target_id, source_id, transfer_key_id, update_key_id)
    return wrap(kek, transfer_key)


def open_(update_key, update_random, target_id, source_id, transfer_key_id, update_key_id,
          wrapped):
    """S1103A: the target's transfer key, or None when anything bound into the KEK differs."""
    kek = _kek(update_key, update_random, target_id, source_id, transfer_key_id, update_key_id)
    return unwrap(kek, wrapped)
