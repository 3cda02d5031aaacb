"""A settlement trace that writes into the journal what each exchange taught the terminal.

Pass it as the `trace` of `settle()` (or of any CardLink): after every answered command it
reads the command and the response and records, before the next command goes out, what a
terminal killed at that point would need to finish the transfer with the cards one at a time.

    receipt = settle(channel_a, channel_b, purse, amount, date, trace=Witness(journal, trace))

It only reads: what the cards answer is checked by the settlement program, not here. Each proof
of moved value it sees (a debit's reception challenge, a credit proof, an abort proof) also goes
into the terminal's clearing batch (terminal/clearing.py), for the issuer to collect.
"""
from common import proto as P
from common import transfer as T
from common.apdu import parse_command
from common.tlv import TlvError, parse
from terminal.clearing import ABORT, CREDIT, DEBIT, Clearing
from terminal.journal import BOTH_DONE, PAYEE_DONE, PAYER_DONE, partial

_OK = b"\x90\x00"


def _int(value):
    return int.from_bytes(bytes(value), "big")


class Witness:
    def __init__(self, journal, trace=None):
        self.journal = journal
        self.clearing = Clearing(journal.folder)
        self.trace = trace
        self.card_ids = {}  # link label -> card identity, from SELECT
        self.key_ids = {}  # link label -> transfer key ID, from SELECT and S1006
        self._offer = None  # S2001: (payer label, request fields, response fields)
        self._context = None  # S2002 onwards: the transfer under way

    def __call__(self, step, label, apdu, resp, elapsed):
        if self.trace:
            self.trace(step, label, apdu, resp, elapsed)
        if len(resp) < 2 or resp[-2:] != _OK:
            return
        try:
            cla, ins, p1, p2, data = parse_command(apdu)
            handler = _HANDLERS.get(ins)
            if handler is not None and (cla == P.CLA_PROPRIETARY or ins == P.INS_SELECT):
                handler(self, label, parse(data) if ins != P.INS_SELECT else {},
                        parse(resp[:-2]))
        except (TlvError, KeyError, TypeError, ValueError):
            pass  # a malformed answer: the CardLink reports it, there is nothing to learn

    def select(self, label, cmd, got):
        if P.TAG_CARD_ID in got:
            self.card_ids[label] = bytes(got[P.TAG_CARD_ID])
        if P.TAG_TRANSFER_KEY_ID in got:
            self.key_ids[label] = _int(got[P.TAG_TRANSFER_KEY_ID])

    def key_update(self, label, cmd, got):
        self.key_ids[label] = _int(got[P.TAG_TRANSFER_KEY_ID])  # S1104A

    def tx_permission(self, label, cmd, got):
        """S2101A/S2102A: the payer set the amount aside until the permission is used or its
        payee proves it never took it."""
        self._offer = (label, cmd, got)
        partial = T.pack(_int(cmd[P.TAG_PURSE]), _int(cmd[P.TAG_AMOUNT]), _int(cmd[P.TAG_DATE]),
                         self.card_ids[label], cmd[P.TAG_PEER_ID], _int(got[P.TAG_COUNTER]), 0,
                         got[P.TAG_TX_RANDOM], bytes(16))
        self.journal.learn(partial, key_id=self.key_ids[label])

    def rx_permission(self, label, cmd, got):
        """S2101B: the payee now holds a tentative credit; its payer can undo it."""
        payer_label, offer, offered = self._offer
        context = T.pack(_int(offer[P.TAG_PURSE]), _int(offer[P.TAG_AMOUNT]),
                         _int(offer[P.TAG_DATE]), self.card_ids[payer_label],
                         self.card_ids[label], _int(offered[P.TAG_COUNTER]),
                         _int(got[P.TAG_COUNTER]), offered[P.TAG_TX_RANDOM],
                         got[P.TAG_RX_RANDOM])
        self._context = context
        self.journal.learn(context, key_id=self.key_ids[label])

    def value_tx(self, label, cmd, got):
        """S2104A: the payer debited; its reception challenge lets the payee credit."""
        context = self._context
        if context is None or T.unpack(context)[8] != bytes(cmd[P.TAG_RX_RANDOM]):
            return
        self.journal.learn(context, rx=got[P.TAG_RX_CHALLENGE])
        self.journal.learn(partial(context), done=BOTH_DONE)  # the permission was used
        self._clear(DEBIT, context, got[P.TAG_RX_CHALLENGE], label)

    def value_rx(self, label, cmd, got):
        """S2105B: the payee credited; its proof clears the payer's record."""
        e = self.journal.find(8, cmd[P.TAG_RX_RANDOM])
        if e is not None:
            self.journal.learn(e.context, cp=got[P.TAG_CREDIT_PROOF])
            self._clear(CREDIT, e.context, got[P.TAG_CREDIT_PROOF], label)

    def tx_confirm(self, label, cmd, got):
        released = P.TAG_ABORT_PROOF in cmd  # the payee's release proof: the amount came back
        e = self.journal.find(7, cmd[P.TAG_TX_RANDOM], released)
        if e is not None:
            self.journal.learn(e.context, done=BOTH_DONE if released else PAYER_DONE)

    def pending(self, label, cmd, got):
        """GET PENDING: a card's own records, the truth about it."""
        out = got.get(P.TAG_PENDING_OUT)
        if out is not None:
            f = parse(out)
            if P.TAG_RX_CHALLENGE in f:
                self.journal.learn(f[P.TAG_CONTEXT], rx=f[P.TAG_RX_CHALLENGE])
                self._clear(DEBIT, f[P.TAG_CONTEXT], f[P.TAG_RX_CHALLENGE], label)
            else:  # an amount set aside at S2001
                self.journal.learn(f[P.TAG_CONTEXT], key_id=_int(f[P.TAG_TRANSFER_KEY_ID]))
        inn = got.get(P.TAG_PENDING_IN)
        if inn is not None:
            f = parse(inn)
            self.journal.learn(f[P.TAG_CONTEXT], key_id=_int(f[P.TAG_TRANSFER_KEY_ID]))

    def resolve(self, label, cmd, got):
        """The payer's answer to a payee's record: it debited (challenge) or never will; or a
        payee's release proof for a permission set aside (journal.learn tells them apart)."""
        self.journal.learn(cmd[P.TAG_CONTEXT], rx=got.get(P.TAG_RX_CHALLENGE),
                           ap=got.get(P.TAG_ABORT_PROOF))
        if P.TAG_RX_CHALLENGE in got:
            self._clear(DEBIT, cmd[P.TAG_CONTEXT], got[P.TAG_RX_CHALLENGE], label)
        elif P.TAG_ABORT_PROOF in got:
            self._clear(ABORT, cmd[P.TAG_CONTEXT], got[P.TAG_ABORT_PROOF], label)

    def _clear(self, kind, context, mac, label):
        """A proof for the issuer's clearing, with the transfer key ID this card showed."""
        self.clearing.add(kind, context, mac, self.key_ids.get(label, 0))

    def rx_abort(self, label, cmd, got):
        e = self.journal.find(8, cmd[P.TAG_RX_RANDOM])
        if e is not None:
            self.journal.learn(e.context, done=PAYEE_DONE)


_HANDLERS = {
    P.INS_SELECT: Witness.select,
    P.INS_KEY_UPDATE: Witness.key_update,
    P.INS_VALUE_TX_PERMISSION: Witness.tx_permission,
    P.INS_VALUE_RX_PERMISSION: Witness.rx_permission,
    P.INS_VALUE_TX: Witness.value_tx,
    P.INS_VALUE_RX: Witness.value_rx,
    P.INS_VALUE_TX_CONFIRM: Witness.tx_confirm,
    P.INS_GET_PENDING: Witness.pending,
    P.INS_PENDING_RESOLVE: Witness.resolve,
    P.INS_VALUE_RX_ABORT: Witness.rx_abort,
}
