"""Card side of resuming interrupted transfers (docs/protocol.md, "Resumable transfer").

Loaded on first use: a card needs it only when a transfer was cut off.
"""

from card.applet import check
from common import proto as P
from common import transfer as T
from common.tlv import encode, need, need_uint, parse


def get_pending(applet, p1, data):
    """The public part of each pending record, for a terminal to complete or undo it."""
    check(not data, P.SW_WRONG_LENGTH)
    s = applet.state
    out = b""
    if s.pending_out is not None:
        rec = s.pending_out
        key = T.record_key(rec)
        out += encode(P.TAG_PENDING_OUT, encode(P.TAG_CONTEXT, rec[: T.CONTEXT_LEN])
                      + encode(P.TAG_RX_CHALLENGE, T.mac(key, T.RX_CHALLENGE)))
    if s.pending_in is not None:
        out += encode(P.TAG_PENDING_IN, encode(P.TAG_CONTEXT, s.pending_in[: T.CONTEXT_LEN])
                      + encode(P.TAG_TRANSFER_KEY_ID, s.pending_in[-2:]))
    return out

def pending_resolve(applet, p1, data):
    """The payer answers a payee's pending record: the reception challenge if it debited
    (so the payee can credit), else an abort proof, after which it can never debit it."""
    f = parse(data)
    context = bytes(need(f, P.TAG_CONTEXT, T.CONTEXT_LEN))
    key_id = need_uint(f, P.TAG_TRANSFER_KEY_ID, 2)
    s = applet.state
    c = T.unpack(context)
    check(c[3] == s.card_id, P.SW_WRONG_DATA)
    if s.pending_out is not None and s.pending_out[: T.CONTEXT_LEN] == context:
        key = T.record_key(s.pending_out)
        return encode(P.TAG_RX_CHALLENGE, T.mac(key, T.RX_CHALLENGE))
    entry = applet.logged(P.LOG_OUT, c[7], 7)
    if entry is not None and entry[1 : 1 + T.CONTEXT_LEN] == context:  # this very transfer
        return encode(P.TAG_RX_CHALLENGE, entry[1 + T.CONTEXT_LEN:])
    if applet.tx_session is not None and T.unpack(applet.tx_session)[7] == c[7]:
        applet.tx_session = None
    transfer_key = s.transfer_key_of(key_id)
    check(transfer_key is not None, P.SW_NOT_FOUND)
    key = T.session_key(transfer_key, context)
    return encode(P.TAG_ABORT_PROOF, T.mac(key, T.ABORT_PROOF))

def value_rx_abort(applet, p1, data):
    """The payer's abort proof drops the payee's tentative credit: no value moved."""
    return applet.clear_pending(data, "pending_in", P.TAG_ABORT_PROOF, T.ABORT_PROOF,
                                P.TAG_RX_RANDOM, 8)
