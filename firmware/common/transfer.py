"""Value-transfer cryptography shared by payer and payee (seed Fig. 4, S2001-S2004).

Every transfer is described by one packed *context*: purse, paid value, transaction date, both
card identities, both transaction counters and both random numbers. A per-transfer session key
is derived from the transfer key over that context (SP 800-108, as SCP03 derives session keys),
and each challenge or proof is a CMAC under it with its own label. Binding everything into the
key means no MAC can be moved to another purse, amount, date, card pair or session; keeping the
session key in the pending records lets recovery finish after the transfer key has rolled on.
"""
import struct

from micropython import const

from common.cmac import cmac, equal
from common.kdf import derive

CONTEXT_LEN = const(65)
_FMT = ">BII8s8sII16s16s"

TX_CHALLENGE = b"TC"  # S2102B, checked in S2103A
RX_CHALLENGE = b"RC"  # S2105A, checked in S2104B
TX_PERMISSION = b"TP"  # payer's permission token, checked by the payee before S2101B
CREDIT_PROOF = b"CP"  # payee credited: clears the payer's pending record
ABORT_PROOF = b"AP"  # payer never debited and never will: clears the payee's pending record
RELEASE_PROOF = b"RL"  # payee holds no record of a permission and never will: the payer's
# amount set aside for it comes back


def pack(purse, amount, date, payer_id, payee_id, payer_counter, payee_counter, tx_random,
         rx_random):
    return struct.pack(_FMT, purse, amount, date, bytes(payer_id), bytes(payee_id),
                       payer_counter, payee_counter, bytes(tx_random), bytes(rx_random))


def unpack(context):
    """(purse, amount, date, payer_id, payee_id, payer_counter, payee_counter, tx_random,
    rx_random)."""
    return struct.unpack(_FMT, bytes(context))


def is_partial(context):
    """A permission's context (a payer's amount set aside at S2001), not a transfer's."""
    return bytes(context[49:CONTEXT_LEN]) == bytes(16)


def session_key(transfer_key, context):
    return derive(transfer_key, b"upurse value", context)


def mac(key, label, context=b""):
    """A challenge or proof: CMAC over its label (and, for the permission token, the context)."""
    return cmac(key, label + bytes(context))


def check(key, label, tag, context=b""):
    return equal(mac(key, label, context), tag)


def record(context, key, key_id):
    """A pending record: the context, its session key and the transfer key ID it came from."""
    return bytes(context) + bytes(key) + key_id.to_bytes(2, "big")


def record_key(rec):
    return rec[CONTEXT_LEN : CONTEXT_LEN + 16]
