"""The card applet: one command APDU in, one response APDU out, over a persistent store.

No I/O of its own: `main.py` feeds it from a link (PN532 target or wired serial), tests call
`process` directly. Every handler checks everything before it changes anything, then saves the
whole state in one atomic write; a rejected command answers its status word and the state is
reloaded from the store, so nothing a rejected command touched survives.

A stored record that fails its MAC (card/state.py: damaged, cut short, or edited outside the
card) makes the card answer every command, SELECT included, with SW_RECORD_DAMAGED: it never
works from, nor writes over, a record it cannot trust.
"""
import os

from micropython import const

from card.state import CardState
from common import proto as P
from common import transfer as T
from common.apdu import LengthError, parse_command, response
from common.tlv import TlvError, encode, need, need_uint, parse, uint

_MAX_AMOUNT = const(0x7FFFFFFF)  # amounts and balances are non-negative 31-bit values
_LOG_PAGE = const(3)  # log entries per GET LOG response (each 84 bytes on air)


class Reject(Exception):
    """A handler refuses the command; args[0] is the status word."""


def check(condition, sw):
    if not condition:
        raise Reject(sw)


class Applet:
    def __init__(self, store):
        self.store = store
        self._restore()
        self._reset_session()

    def _reset_session(self):
        self.selected = False
        self.update_random = None  # S1102A, single use
        self.tx_session = None  # S2101A/S2102A: (context with no rx random, permission token)
        self.rx_nonce = None  # SELECT's random again: binds a payer's permission token to this
        # session of ours, so a recorded S2002 is refused in any other (single use)

    # -- dispatch ---------------------------------------------------------------------------

    def process(self, apdu):
        """Map one command APDU to its response APDU; never raises."""
        if self.damaged:
            return response(b"", P.SW_RECORD_DAMAGED)
        try:
            cla, ins, p1, p2, data = parse_command(apdu)
            return response(self._dispatch(cla, ins, p1, p2, data), P.SW_OK)
        except Reject as e:
            sw = e.args[0]
        except LengthError:
            sw = P.SW_WRONG_LENGTH
        except TlvError:
            sw = P.SW_WRONG_DATA
        except Exception:  # noqa: BLE001 - the card must answer, whatever went wrong
            sw = P.SW_UNKNOWN
        self._restore()
        return response(b"", sw)

    transmit = process  # an applet is itself a channel for the settlement program

    def _restore(self):
        """The state as stored; a record that cannot be trusted leaves the card damaged."""
        record = self.store.load()
        self.damaged = record is not None and not record  # an empty file: cut short
        try:
            self.state = CardState.decode(record)
        except Exception:  # noqa: BLE001 - a bad MAC, or a record no card wrote
            self.damaged = True
        if self.damaged:
            self.state = CardState()

    def _dispatch(self, cla, ins, p1, p2, data):
        if cla == P.CLA_ISO:
            check(ins == P.INS_SELECT, P.SW_INS_UNKNOWN)
            return self.select(p1, p2, data)
        check(cla == P.CLA_PROPRIETARY, P.SW_CLA_UNKNOWN)
        handler = _HANDLERS.get(ins)
        check(handler is not None, P.SW_INS_UNKNOWN)
        check(self.selected, P.SW_WRONG_STATE)
        check(p1 == 0 or ins == P.INS_GET_BALANCE or ins == P.INS_GET_LOG, P.SW_WRONG_P1P2)
        check(p2 == 0, P.SW_WRONG_P1P2)
        life_cycle = _LIFE_CYCLE[ins]
        check(life_cycle is None or self.state.life_cycle == life_cycle, P.SW_WRONG_STATE)
        if type(handler) is tuple:
            handler = getattr(__import__("card." + handler[0], None, None, (handler[1],)),
                              handler[1])
        elif type(handler) is str:  # a module in card/ with its own HANDLERS table by INS
            handler = __import__("card." + handler, None, None, ("HANDLERS",)).HANDLERS[ins]
        return handler(self, p1, data)

    def save(self):
        self.store.save(self.state.pieces())  # no block the size of the whole record

    # -- S1001, S1002, S1004: selection, card information, update permission ---------------

    def select(self, p1, p2, data):
        """S1001; the response also carries S1101 (card information) and S1102A (update random)."""
        check(p1 == 0x04 and p2 == 0x00, P.SW_WRONG_P1P2)
        check(bytes(data) == P.AID, P.SW_FILE_NOT_FOUND)
        self._reset_session()
        self.selected = True
        info = self._card_info()
        if self.state.life_cycle == P.STATE_ACTIVE:
            info += self._new_update_random()
            self.rx_nonce = self.update_random
        return info

    def get_card_info(self, p1, data):
        """S1101A/B: transfer key ID, update key ID, term of validity, identity, pending flags."""
        check(not data, P.SW_WRONG_LENGTH)
        return self._card_info()

    def _card_info(self):
        s = self.state
        out = uint(P.TAG_STATE, s.life_cycle, 1)
        if s.card_id is not None:
            out += encode(P.TAG_CARD_ID, s.card_id)
        if s.life_cycle == P.STATE_PERSONALIZATION:
            out += uint(P.TAG_PERSO_COUNTER, s.perso_counter, 4)
        if s.life_cycle != P.STATE_ACTIVE:
            return out
        pending = (P.PENDING_OUT if s.pending_out else 0) | (P.PENDING_IN if s.pending_in else 0)
        return (out + uint(P.TAG_SCHEME, s.scheme, 1)
                + uint(P.TAG_TRANSFER_KEY_ID, s.transfer_key_id, 2)
                + uint(P.TAG_UPDATE_KEY_ID, s.update_key_id, 2)
                + uint(P.TAG_VALIDITY, s.validity, 4)
                + uint(P.TAG_LAST_DATE, s.last_date, 4)
                + uint(P.TAG_PENDING, pending, 1))

    def key_update_permission(self, p1, data):
        """S1102A: a fresh update random number, good for one transfer-key update."""
        check(not data, P.SW_WRONG_LENGTH)
        return self._new_update_random()

    def _new_update_random(self):
        self.update_random = os.urandom(P.RANDOM_LEN)
        return encode(P.TAG_UPDATE_RANDOM, self.update_random)

    # -- S1005, S1006: the transfer key under the update key ---------------------------------

    def key_obtain(self, p1, data):
        """S1102B: wrap this card's transfer key for the target card's update random number."""
        f = parse(data)
        update_random = need(f, P.TAG_UPDATE_RANDOM, P.RANDOM_LEN)
        target_id = need(f, P.TAG_PEER_ID, P.CARD_ID_LEN)
        s = self.state
        # schemes 2 (no update key, Fig. 6) and 4 (only the active ID moves, Fig. 14): never
        check(s.update_key and s.scheme != P.SCHEME_PRELOADED, P.SW_WRONG_STATE)
        check(bytes(target_id) != s.card_id, P.SW_WRONG_DATA)
        from common.keyroll import seal  # only when key IDs differ: not resident

        wrapped = seal(s.update_key, update_random, target_id, s.card_id, s.transfer_key_id,
                       s.update_key_id, s.transfer_key)
        return (encode(P.TAG_CARD_ID, s.card_id)
                + uint(P.TAG_TRANSFER_KEY_ID, s.transfer_key_id, 2)
                + uint(P.TAG_UPDATE_KEY_ID, s.update_key_id, 2)
                + encode(P.TAG_WRAPPED_KEY, wrapped))

    def key_update(self, p1, data):
        """S1103A: authenticate the wrapped key against our update random; S1104A: install it."""
        s = self.state
        source_id, new_id, update_key_id, wrapped, update_random = self.key_request(
            data, P.TAG_WRAPPED_KEY, P.WRAPPED_KEY_LEN,
            s.update_key and s.scheme != P.SCHEME_PRELOADED)
        from common.keyroll import open_

        key = open_(s.update_key, update_random, s.card_id, source_id, new_id, update_key_id,
                    wrapped)
        check(key is not None, P.SW_SECURITY)
        # S1104A: newer than ours and not above the upper limit of transfer key ID
        check(s.transfer_key_id < new_id <= s.transfer_key_limit, P.SW_KEY_ID_REFUSED)
        return self.install_transfer_key(new_id, key)

    def key_request(self, data, tag, length, usable):
        """The fields of a key update from a source card (S1103A, S6103A) and our update random,
        checked: `usable` says this card's scheme takes such an update. The update random is
        spent, whatever the outcome. (source ID, new key ID, update key ID, `tag` value, random)."""
        f = parse(data)
        source_id = bytes(need(f, P.TAG_PEER_ID, P.CARD_ID_LEN))
        new_id = need_uint(f, P.TAG_TRANSFER_KEY_ID, 2)
        update_key_id = need_uint(f, P.TAG_UPDATE_KEY_ID, 2)
        value = need(f, tag, length)
        update_random = self.update_random
        self.update_random = None  # single use, whatever the outcome
        check(update_random is not None, P.SW_WRONG_STATE)
        s = self.state
        check(usable, P.SW_WRONG_STATE)
        check(source_id != s.card_id, P.SW_WRONG_DATA)
        check(update_key_id == s.update_key_id, P.SW_NOT_FOUND)
        return source_id, new_id, update_key_id, value, update_random

    def install_transfer_key(self, new_id, key):
        """S1104A, S6104A: the new transfer key, the old one kept as the previous (recovery of
        transfers made under it); saved. The answer: the new transfer key ID."""
        self.state.roll_transfer_key(new_id, key)
        self.save()
        return uint(P.TAG_TRANSFER_KEY_ID, new_id, 2)

    # -- S2001 to S2004: value transfer -------------------------------------------------------

    def _value_terms(self, f):
        """Purse, paid value and transaction date of a permission request, checked by the card."""
        s = self.state
        purse = need_uint(f, P.TAG_PURSE, 1)
        amount = need_uint(f, P.TAG_AMOUNT, 4)
        date = need_uint(f, P.TAG_DATE, 4)
        peer = bytes(need(f, P.TAG_PEER_ID, P.CARD_ID_LEN))
        check(0 < amount <= _MAX_AMOUNT, P.SW_WRONG_DATA)
        check(peer != s.card_id, P.SW_WRONG_DATA)
        check(purse in s.purses, P.SW_NOT_FOUND)
        check(s.dated(date), P.SW_DATE_REFUSED)
        return purse, amount, date, peer

    def value_tx_permission(self, p1, data):
        """S2101A: tentatively debit; S2102A: the transmission random number, with a permission
        token that lets the payee check a genuine payer card asked for this transfer.

        A permission costs its payer: the amount is set aside at once, kept as a pending
        outgoing record, and the card gives no other permission until this one is used (S2003)
        or released (its payee proves it holds no record of it, or the payer's abort proof
        undid the payee's; docs/protocol.md section 7). A half transfer blocks one payee at a
        time, and only as long as the blocker's own value stays set aside."""
        s = self.state
        check(s.pending_out is None, P.SW_PENDING)
        f = parse(data)
        purse, amount, date, payee = self._value_terms(f)
        nonce = need(f, P.TAG_UPDATE_RANDOM, P.RANDOM_LEN)  # the payee's, from its SELECT
        check(amount <= s.purses[purse][0], P.SW_VALUE_LIMIT)
        tx_random = os.urandom(P.RANDOM_LEN)
        partial = T.pack(purse, amount, date, s.card_id, payee, s.counter, 0, tx_random,
                         bytes(P.RANDOM_LEN))
        token = T.mac(s.transfer_key, T.TX_PERMISSION, partial + bytes(nonce))
        s.purses[purse][0] -= amount
        s.pending_out = T.record(partial, T.session_key(s.transfer_key, partial),
                                 s.transfer_key_id)
        self.save()
        self.tx_session = partial
        return (encode(P.TAG_TX_RANDOM, tx_random) + uint(P.TAG_COUNTER, s.counter, 4)
                + encode(P.TAG_MAC, token))

    def value_rx_permission(self, p1, data):
        """S2101B: tentative credit kept as a pending record; S2102B: transmission challenge;
        S2103B: reception random number."""
        s = self.state
        nonce = self.rx_nonce
        self.rx_nonce = None  # one S2002 per SELECT, whatever the outcome
        check(s.pending_in is None, P.SW_PENDING)
        f = parse(data)
        purse, amount, date, payer = self._value_terms(f)
        tx_random = need(f, P.TAG_TX_RANDOM, P.RANDOM_LEN)
        payer_counter = need_uint(f, P.TAG_PEER_COUNTER, 4)
        token = need(f, P.TAG_MAC, P.MAC_LEN)
        check(s.purses[purse][0] + amount <= s.purses[purse][1], P.SW_VALUE_LIMIT)
        partial = T.pack(purse, amount, date, payer, s.card_id, payer_counter, 0, tx_random,
                         bytes(P.RANDOM_LEN))
        # A genuine payer card asked for these terms, in this session of ours: a recorded
        # S2002 (of a transfer credited, aborted or never finished) carries another nonce.
        check(nonce is not None and T.check(s.transfer_key, T.TX_PERMISSION, token,
                                            partial + nonce), P.SW_SECURITY)
        rx_random = os.urandom(P.RANDOM_LEN)
        context = T.pack(purse, amount, date, payer, s.card_id, payer_counter, s.counter,
                         tx_random, rx_random)
        key = T.session_key(s.transfer_key, context)
        s.pending_in = T.record(context, key, s.transfer_key_id)
        self.save()
        return (encode(P.TAG_TX_CHALLENGE, T.mac(key, T.TX_CHALLENGE))
                + encode(P.TAG_RX_RANDOM, rx_random) + uint(P.TAG_COUNTER, s.counter, 4))

    def value_tx(self, p1, data):
        """S2103A: check the transmission challenge; S2104A: debit (the amount set aside at
        S2001), keeping a pending record until the payee's credit proof; S2105A: the reception
        challenge."""
        f = parse(data)
        challenge = need(f, P.TAG_TX_CHALLENGE, P.MAC_LEN)
        rx_random = need(f, P.TAG_RX_RANDOM, P.RANDOM_LEN)
        payee_counter = need_uint(f, P.TAG_PEER_COUNTER, 4)
        partial = self.tx_session
        self.tx_session = None  # one try per transmission random
        check(partial is not None, P.SW_WRONG_STATE)
        s = self.state
        # still set aside: not released (PENDING RESOLVE) nor refunded (ISSUER RESOLVE) since
        check(s.pending_out is not None and s.pending_out[: T.CONTEXT_LEN] == partial,
              P.SW_WRONG_STATE)
        c = T.unpack(partial)
        purse, date = c[0], c[2]
        context = T.pack(purse, c[1], date, c[3], c[4], c[5], payee_counter, c[7], rx_random)
        key = T.session_key(s.transfer_key, context)
        check(T.check(key, T.TX_CHALLENGE, challenge), P.SW_SECURITY)
        reception = T.mac(key, T.RX_CHALLENGE)
        s.counter += 1
        s.last_date = max(s.last_date, date)
        s.pending_out = T.record(context, key, s.transfer_key_id)
        self.log_entry(P.LOG_OUT, context, reception)
        self.save()
        return (encode(P.TAG_RX_CHALLENGE, reception)
                + uint(P.TAG_BALANCE, s.purses[purse][0], 4))

    def value_rx(self, p1, data):
        """S2104B: check the reception challenge; S2105B: credit and prove it to the payer.
        Asked again for a transfer it already credited, the card repeats its proof."""
        f = parse(data)
        reception = need(f, P.TAG_RX_CHALLENGE, P.MAC_LEN)
        rx_random = bytes(need(f, P.TAG_RX_RANDOM, P.RANDOM_LEN))
        s = self.state
        pending = s.pending_in
        if pending is None or T.unpack(pending[: T.CONTEXT_LEN])[8] != rx_random:
            entry = self.logged(P.LOG_IN, rx_random, 8)
            check(entry is not None, P.SW_NOT_FOUND)
            purse = entry[1]
            return (encode(P.TAG_CREDIT_PROOF, entry[1 + T.CONTEXT_LEN:])
                    + uint(P.TAG_BALANCE, s.purses[purse][0], 4))
        context = pending[: T.CONTEXT_LEN]
        key = T.record_key(pending)
        check(T.check(key, T.RX_CHALLENGE, reception), P.SW_SECURITY)
        purse, amount, date = T.unpack(context)[:3]
        proof = T.mac(key, T.CREDIT_PROOF)
        s.purses[purse][0] += amount
        s.counter += 1
        s.last_date = max(s.last_date, date)
        s.pending_in = None
        self.log_entry(P.LOG_IN, context, proof)
        self.save()
        return encode(P.TAG_CREDIT_PROOF, proof) + uint(P.TAG_BALANCE, s.purses[purse][0], 4)

    def value_tx_confirm(self, p1, data):
        """The payee's credit proof clears the payer's pending record: the transfer is done.
        For an amount set aside at S2001 and never debited, the payee's release proof."""
        rec = self.state.pending_out
        if rec is not None and T.is_partial(rec[: T.CONTEXT_LEN]):
            from card.recovery import release

            return release(self, data)
        return self.clear_pending(data, "pending_out", P.TAG_CREDIT_PROOF, T.CREDIT_PROOF,
                                  P.TAG_TX_RANDOM, 7)

    def clear_pending(self, data, name, proof_tag, label, random_tag, field, refund=False):
        """Drop the pending record `name` of the state once the peer proves it may go: the
        random number sent (`random_tag`) is its context's `field`, and the proof sent
        (`proof_tag`) is the MAC of `label` under the record's session key. `refund`: the
        record's amount, set aside, comes back in the same write."""
        f = parse(data)
        random = bytes(need(f, random_tag, P.RANDOM_LEN))
        s = self.state
        pending = getattr(s, name)
        check(pending is not None and T.unpack(pending[: T.CONTEXT_LEN])[field] == random,
              P.SW_NOT_FOUND)
        check(T.check(T.record_key(pending), label, need(f, proof_tag, P.MAC_LEN)),
              P.SW_SECURITY)
        if refund:
            c = T.unpack(pending[: T.CONTEXT_LEN])
            s.purses[c[0]][0] += c[1]
        setattr(s, name, None)
        self.save()
        return b""

    # -- balances and log --------------------------------------------------------------------

    def get_balance(self, p1, data):
        """Value balance and maximum of one purse (P1), or of every purse (P1 = 0)."""
        check(not data, P.SW_WRONG_LENGTH)
        purses = self.state.purses
        check(p1 == 0 or p1 in purses, P.SW_NOT_FOUND)
        out = b""
        for purse in sorted(purses):
            if p1 in (0, purse):
                balance, maximum = purses[purse]
                out += encode(P.TAG_PURSE_RECORD, uint(P.TAG_PURSE, purse, 1)
                              + uint(P.TAG_BALANCE, balance, 4)
                              + uint(P.TAG_MAX_BALANCE, maximum, 4))
        return out

    def get_log(self, p1, data):
        """Log entries from index P1 (0 = oldest), a few per response."""
        check(not data, P.SW_WRONG_LENGTH)
        log = self.state.log
        check(p1 <= len(log), P.SW_WRONG_P1P2)
        return b"".join(encode(P.TAG_LOG_ENTRY, e) for e in log[p1 : p1 + _LOG_PAGE])

    def log_entry(self, direction, context, mac):
        log = self.state.log
        log.append(bytes((direction,)) + bytes(context) + bytes(mac))
        if len(log) > P.LOG_SIZE:
            log.pop(0)

    def logged(self, direction, random, field):
        """The log entry of `direction` whose context field `field` (a random) equals `random`."""
        for entry in self.state.log:
            if entry[0] == direction and T.unpack(entry[1 : 1 + T.CONTEXT_LEN])[field] == random:
                return entry
        return None

_HANDLERS = {
    P.INS_GET_CARD_INFO: Applet.get_card_info,
    P.INS_KEY_UPDATE_PERMISSION: Applet.key_update_permission,
    P.INS_KEY_OBTAIN: Applet.key_obtain,
    P.INS_KEY_UPDATE: Applet.key_update,
    P.INS_VALUE_TX_PERMISSION: Applet.value_tx_permission,
    P.INS_VALUE_RX_PERMISSION: Applet.value_rx_permission,
    P.INS_VALUE_TX: Applet.value_tx,
    P.INS_VALUE_RX: Applet.value_rx,
    P.INS_VALUE_TX_CONFIRM: Applet.value_tx_confirm,
    P.INS_GET_BALANCE: Applet.get_balance,
    P.INS_GET_LOG: Applet.get_log,
    # rarely needed: (module in card/, function), imported on first use to save heap
    P.INS_PENDING_RESOLVE: ("recovery", "pending_resolve"),
    P.INS_VALUE_RX_ABORT: ("recovery", "value_rx_abort"),
    P.INS_GET_PENDING: ("recovery", "get_pending"),
    P.INS_ISSUER_RESOLVE: ("resolve", "issuer_resolve"),
    P.INS_INITIALIZE: ("personalize", "initialize"),
    P.INS_PERSONALIZE: ("personalize", "personalize"),
    P.INS_LOCK: ("personalize", "lock"),
    P.INS_GENERATE_KEY: ("personalize", "generate_key"),
    # key-update embodiments 2-5 (docs/pki.md): card/keys.py and card/pki.py map INS to handler
    P.INS_GET_KEY_INFO: "keys",
    P.INS_KEY_ACTIVATION_OBTAIN: "keys",
    P.INS_KEY_ACTIVATE: "keys",
    P.INS_PK_UPDATE_PERMISSION: "pki",
    P.INS_PK_KEY_OBTAIN: "pki",
    P.INS_PK_KEY_UPDATE: "pki",
    P.INS_PK_KEY_CONFIRM: "pki",
}

# The life cycle state each command needs (None: any)
_LIFE_CYCLE = {
    P.INS_GET_CARD_INFO: None,
    P.INS_INITIALIZE: P.STATE_BLANK,
    P.INS_PERSONALIZE: P.STATE_PERSONALIZATION,
    P.INS_LOCK: P.STATE_PERSONALIZATION,
    P.INS_GENERATE_KEY: P.STATE_PERSONALIZATION,
}
for _ins in _HANDLERS:
    if _ins not in _LIFE_CYCLE:
        _LIFE_CYCLE[_ins] = P.STATE_ACTIVE
