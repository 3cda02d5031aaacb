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
        if T.is_partial(rec[: T.CONTEXT_LEN]):  # an amount set aside at S2001: its key ID
            proof = encode(P.TAG_TRANSFER_KEY_ID, rec[-2:])
        else:
            proof = encode(P.TAG_RX_CHALLENGE, T.mac(T.record_key(rec), T.RX_CHALLENGE))
        out += encode(P.TAG_PENDING_OUT, encode(P.TAG_CONTEXT, rec[: T.CONTEXT_LEN]) + proof)
    if s.pending_in is not None:
        out += encode(P.TAG_PENDING_IN, encode(P.TAG_CONTEXT, s.pending_in[: T.CONTEXT_LEN])
                      + encode(P.TAG_TRANSFER_KEY_ID, s.pending_in[-2:]))
    return out

def pending_resolve(applet, p1, data):
    """The payer answers a payee's pending record: the reception challenge if it debited
    (so the payee can credit), else an abort proof, after which it can never debit it. Asked
    about a permission its payer set aside (a partial context), the payee proves it holds no
    record of it: only that gives the payer its amount back (VALUE TX CONFIRM), so a blocker
    stays blocked itself while its payee is."""
    f = parse(data)
    context = bytes(need(f, P.TAG_CONTEXT, T.CONTEXT_LEN))
    key_id = need_uint(f, P.TAG_TRANSFER_KEY_ID, 2)
    s = applet.state
    c = T.unpack(context)
    if c[4] == s.card_id and T.is_partial(context):
        return _release_proof(applet, c, context, key_id)
    check(c[3] == s.card_id, P.SW_WRONG_DATA)
    rec = s.pending_out
    if rec is not None and rec[: T.CONTEXT_LEN] == context:
        return encode(P.TAG_RX_CHALLENGE, T.mac(T.record_key(rec), T.RX_CHALLENGE))
    entry = applet.logged(P.LOG_OUT, c[7], 7)
    if entry is not None and entry[1 : 1 + T.CONTEXT_LEN] == context:  # this very transfer
        return encode(P.TAG_RX_CHALLENGE, entry[1 + T.CONTEXT_LEN:])
    transfer_key = s.transfer_key_of(key_id)
    check(transfer_key is not None, P.SW_NOT_FOUND)
    if applet.tx_session is not None and T.unpack(applet.tx_session)[7] == c[7]:
        applet.tx_session = None
    key = T.session_key(transfer_key, context)
    return encode(P.TAG_ABORT_PROOF, T.mac(key, T.ABORT_PROOF))


def _release_proof(applet, c, context, key_id):
    """The payee of a permission (`context`, partial) proves it holds no record of it and
    will take none: its session nonce goes, so no S2002 in this session, and a permission
    token is bound to one session only."""
    applet.rx_nonce = None
    s = applet.state
    pin = s.pending_in
    check(pin is None or T.unpack(pin[: T.CONTEXT_LEN])[7] != c[7], P.SW_PENDING)
    transfer_key = s.transfer_key_of(key_id)
    check(transfer_key is not None, P.SW_NOT_FOUND)
    key = T.session_key(transfer_key, context)
    return encode(P.TAG_ABORT_PROOF, T.mac(key, T.RELEASE_PROOF))

def value_rx_abort(applet, p1, data):
    """The payer's abort proof drops the payee's tentative credit: no value moved."""
    return applet.clear_pending(data, "pending_in", P.TAG_ABORT_PROOF, T.ABORT_PROOF,
                                P.TAG_RX_RANDOM, 8)


def release(applet, data):
    """VALUE TX CONFIRM of an amount set aside at S2001: the payee's release proof gives it
    back (see _release_proof)."""
    return applet.clear_pending(data, "pending_out", P.TAG_ABORT_PROOF, T.RELEASE_PROOF,
                                P.TAG_TX_RANDOM, 7, True)
