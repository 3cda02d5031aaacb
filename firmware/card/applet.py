"""The card applet: one command APDU in, one response APDU out, over a persistent store.

No I/O of its own: `main.py` feeds it from a link (PN532 target or wired serial), tests call
`process` directly. Every handler checks everything before it changes anything, then saves the
whole state in one atomic write; a rejected command answers its status word and the state is
reloaded from the store, so nothing a rejected command touched survives.
"""
import os

from micropython import const

from common import proto as P
from common import transfer as T
from common.apdu import LengthError, parse_command, response
from common.keyroll import open_ as open_wrapped_key
from common.keyroll import seal as seal_transfer_key
from common.tlv import TlvError, encode, items, need, need_uint, parse, uint
from card.state import CardState

_MAX_AMOUNT = const(0x7FFFFFFF)  # amounts and balances are non-negative 31-bit values
_SK = const(16)  # session key length inside pending records
_LOG_PAGE = const(3)  # log entries per GET LOG response (each 84 bytes on air)


class Reject(Exception):
    """A handler refuses the command; args[0] is the status word."""


def _check(condition, sw):
    if not condition:
        raise Reject(sw)


class Applet:
    def __init__(self, store):
        self.store = store
        record = store.load()
        self.state = CardState.decode(record) if record else CardState()
        self._reset_session()

    def _reset_session(self):
        self.selected = False
        self.update_random = None  # S1102A, single use
        self.tx_session = None  # S2101A/S2102A: (context with no rx random, permission token)

    # -- dispatch ---------------------------------------------------------------------------

    def process(self, apdu):
        """Map one command APDU to its response APDU; never raises."""
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
        record = self.store.load()
        self.state = CardState.decode(record) if record else CardState()

    def _dispatch(self, cla, ins, p1, p2, data):
        if cla == P.CLA_ISO:
            _check(ins == P.INS_SELECT, P.SW_INS_UNKNOWN)
            return self.select(p1, p2, data)
        _check(cla == P.CLA_PROPRIETARY, P.SW_CLA_UNKNOWN)
        handler = _HANDLERS.get(ins)
        _check(handler is not None, P.SW_INS_UNKNOWN)
        _check(self.selected, P.SW_WRONG_STATE)
        _check(p1 == 0 or ins == P.INS_GET_BALANCE or ins == P.INS_GET_LOG, P.SW_WRONG_P1P2)
        _check(p2 == 0, P.SW_WRONG_P1P2)
        life_cycle = _LIFE_CYCLE[ins]
        _check(life_cycle is None or self.state.life_cycle == life_cycle, P.SW_WRONG_STATE)
        return handler(self, p1, data)

    def _save(self):
        self.store.save(self.state.encode())

    # -- S1001, S1002, S1004: selection, card information, update permission ---------------

    def select(self, p1, p2, data):
        """S1001; the response also carries S1101 (card information) and S1102A (update random)."""
        _check(p1 == 0x04 and p2 == 0x00, P.SW_WRONG_P1P2)
        _check(bytes(data) == P.AID, P.SW_FILE_NOT_FOUND)
        self._reset_session()
        self.selected = True
        info = self._card_info()
        if self.state.life_cycle == P.STATE_ACTIVE:
            info += self._new_update_random()
        return info

    def get_card_info(self, p1, data):
        """S1101A/B: transfer key ID, update key ID, term of validity, identity, pending flags."""
        _check(not data, P.SW_WRONG_LENGTH)
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
                + uint(P.TAG_PENDING, pending, 1))

    def key_update_permission(self, p1, data):
        """S1102A: a fresh update random number, good for one transfer-key update."""
        _check(not data, P.SW_WRONG_LENGTH)
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
        _check(bytes(target_id) != s.card_id, P.SW_WRONG_DATA)
        wrapped = seal_transfer_key(s.update_key, update_random, target_id, s.card_id,
                                    s.transfer_key_id, s.update_key_id, s.transfer_key)
        return (encode(P.TAG_CARD_ID, s.card_id)
                + uint(P.TAG_TRANSFER_KEY_ID, s.transfer_key_id, 2)
                + uint(P.TAG_UPDATE_KEY_ID, s.update_key_id, 2)
                + encode(P.TAG_WRAPPED_KEY, wrapped))

    def key_update(self, p1, data):
        """S1103A: authenticate the wrapped key against our update random; S1104A: install it."""
        f = parse(data)
        source_id = need(f, P.TAG_PEER_ID, P.CARD_ID_LEN)
        new_id = need_uint(f, P.TAG_TRANSFER_KEY_ID, 2)
        update_key_id = need_uint(f, P.TAG_UPDATE_KEY_ID, 2)
        wrapped = need(f, P.TAG_WRAPPED_KEY, P.WRAPPED_KEY_LEN)
        update_random = self.update_random
        self.update_random = None  # single use, whatever the outcome
        _check(update_random is not None, P.SW_WRONG_STATE)
        s = self.state
        _check(bytes(source_id) != s.card_id, P.SW_WRONG_DATA)
        _check(update_key_id == s.update_key_id, P.SW_NOT_FOUND)
        key = open_wrapped_key(s.update_key, update_random, s.card_id, source_id, new_id,
                               update_key_id, wrapped)
        _check(key is not None, P.SW_SECURITY)
        # S1104A: newer than ours and not above the upper limit of transfer key ID
        _check(s.transfer_key_id < new_id <= s.transfer_key_limit, P.SW_KEY_ID_REFUSED)
        s.prev_transfer_key_id, s.prev_transfer_key = s.transfer_key_id, s.transfer_key
        s.transfer_key_id, s.transfer_key = new_id, key
        self._save()
        return uint(P.TAG_TRANSFER_KEY_ID, new_id, 2)

    # -- S2001 to S2004: value transfer -------------------------------------------------------

    def _value_terms(self, f):
        """Purse, paid value and transaction date of a permission request, checked by the card."""
        s = self.state
        purse = need_uint(f, P.TAG_PURSE, 1)
        amount = need_uint(f, P.TAG_AMOUNT, 4)
        date = need_uint(f, P.TAG_DATE, 4)
        peer = bytes(need(f, P.TAG_PEER_ID, P.CARD_ID_LEN))
        _check(0 < amount <= _MAX_AMOUNT, P.SW_WRONG_DATA)
        _check(peer != s.card_id, P.SW_WRONG_DATA)
        _check(purse in s.purses, P.SW_NOT_FOUND)
        # The card itself refuses a date past its term of validity or before its last transaction.
        _check(s.last_date <= date <= s.validity, P.SW_DATE_REFUSED)
        return purse, amount, date, peer

    def value_tx_permission(self, p1, data):
        """S2101A: tentatively debit; S2102A: the transmission random number, with a permission
        token that lets the payee check a genuine payer card asked for this transfer."""
        s = self.state
        _check(s.pending_out is None, P.SW_PENDING)
        purse, amount, date, payee = self._value_terms(parse(data))
        _check(amount <= s.purses[purse][0], P.SW_VALUE_LIMIT)
        tx_random = os.urandom(P.RANDOM_LEN)
        partial = T.pack(purse, amount, date, s.card_id, payee, s.counter, 0, tx_random,
                         bytes(P.RANDOM_LEN))
        token = T.mac(s.transfer_key, T.TX_PERMISSION, partial)
        self.tx_session = partial
        return (encode(P.TAG_TX_RANDOM, tx_random) + uint(P.TAG_COUNTER, s.counter, 4)
                + encode(P.TAG_MAC, token))

    def value_rx_permission(self, p1, data):
        """S2101B: tentative credit kept as a pending record; S2102B: transmission challenge;
        S2103B: reception random number."""
        s = self.state
        _check(s.pending_in is None, P.SW_PENDING)
        f = parse(data)
        purse, amount, date, payer = self._value_terms(f)
        tx_random = need(f, P.TAG_TX_RANDOM, P.RANDOM_LEN)
        payer_counter = need_uint(f, P.TAG_PEER_COUNTER, 4)
        token = need(f, P.TAG_MAC, P.MAC_LEN)
        _check(s.purses[purse][0] + amount <= s.purses[purse][1], P.SW_VALUE_LIMIT)
        partial = T.pack(purse, amount, date, payer, s.card_id, payer_counter, 0, tx_random,
                         bytes(P.RANDOM_LEN))
        _check(T.check(s.transfer_key, T.TX_PERMISSION, token, partial), P.SW_SECURITY)
        rx_random = os.urandom(P.RANDOM_LEN)
        context = T.pack(purse, amount, date, payer, s.card_id, payer_counter, s.counter,
                         tx_random, rx_random)
        key = T.session_key(s.transfer_key, context)
        s.pending_in = context + key + s.transfer_key_id.to_bytes(2, "big")
        self._save()
        return (encode(P.TAG_TX_CHALLENGE, T.mac(key, T.TX_CHALLENGE))
                + encode(P.TAG_RX_RANDOM, rx_random) + uint(P.TAG_COUNTER, s.counter, 4))

    def value_tx(self, p1, data):
        """S2103A: check the transmission challenge; S2104A: debit, keeping a pending record
        until the payee's credit proof; S2105A: the reception challenge."""
        f = parse(data)
        challenge = need(f, P.TAG_TX_CHALLENGE, P.MAC_LEN)
        rx_random = need(f, P.TAG_RX_RANDOM, P.RANDOM_LEN)
        payee_counter = need_uint(f, P.TAG_PEER_COUNTER, 4)
        partial = self.tx_session
        self.tx_session = None  # one try per transmission random
        _check(partial is not None, P.SW_WRONG_STATE)
        s = self.state
        c = T.unpack(partial)
        purse, amount, date = c[0], c[1], c[2]
        _check(s.pending_out is None, P.SW_PENDING)
        _check(amount <= s.purses[purse][0], P.SW_VALUE_LIMIT)
        _check(s.last_date <= date, P.SW_DATE_REFUSED)
        context = T.pack(purse, amount, date, c[3], c[4], c[5], payee_counter, c[7], rx_random)
        key = T.session_key(s.transfer_key, context)
        _check(T.check(key, T.TX_CHALLENGE, challenge), P.SW_SECURITY)
        reception = T.mac(key, T.RX_CHALLENGE)
        s.purses[purse][0] -= amount
        s.counter += 1
        s.last_date = date
        s.pending_out = context + key + s.transfer_key_id.to_bytes(2, "big")
        self._log(P.LOG_OUT, context, reception)
        self._save()
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
            entry = self._logged(P.LOG_IN, rx_random, 8)
            _check(entry is not None, P.SW_NOT_FOUND)
            purse = entry[1]
            return (encode(P.TAG_CREDIT_PROOF, entry[1 + T.CONTEXT_LEN:])
                    + uint(P.TAG_BALANCE, s.purses[purse][0], 4))
        context = pending[: T.CONTEXT_LEN]
        key = pending[T.CONTEXT_LEN : T.CONTEXT_LEN + _SK]
        _check(T.check(key, T.RX_CHALLENGE, reception), P.SW_SECURITY)
        purse, amount, date = T.unpack(context)[:3]
        proof = T.mac(key, T.CREDIT_PROOF)
        s.purses[purse][0] += amount
        s.counter += 1
        s.last_date = max(s.last_date, date)
        s.pending_in = None
        self._log(P.LOG_IN, context, proof)
        self._save()
        return encode(P.TAG_CREDIT_PROOF, proof) + uint(P.TAG_BALANCE, s.purses[purse][0], 4)

    def value_tx_confirm(self, p1, data):
        """The payee's credit proof clears the payer's pending record: the transfer is done."""
        f = parse(data)
        proof = need(f, P.TAG_CREDIT_PROOF, P.MAC_LEN)
        tx_random = bytes(need(f, P.TAG_TX_RANDOM, P.RANDOM_LEN))
        s = self.state
        pending = s.pending_out
        _check(pending is not None and T.unpack(pending[: T.CONTEXT_LEN])[7] == tx_random,
               P.SW_NOT_FOUND)
        key = pending[T.CONTEXT_LEN : T.CONTEXT_LEN + _SK]
        _check(T.check(key, T.CREDIT_PROOF, proof), P.SW_SECURITY)
        s.pending_out = None
        self._save()
        return b""

    # -- recovery of interrupted transfers ---------------------------------------------------

    def get_pending(self, p1, data):
        """The public part of each pending record, for a terminal to complete or undo it."""
        _check(not data, P.SW_WRONG_LENGTH)
        s = self.state
        out = b""
        if s.pending_out is not None:
            rec = s.pending_out
            key = rec[T.CONTEXT_LEN : T.CONTEXT_LEN + _SK]
            out += encode(P.TAG_PENDING_OUT, encode(P.TAG_CONTEXT, rec[: T.CONTEXT_LEN])
                          + encode(P.TAG_RX_CHALLENGE, T.mac(key, T.RX_CHALLENGE)))
        if s.pending_in is not None:
            out += encode(P.TAG_PENDING_IN, encode(P.TAG_CONTEXT, s.pending_in[: T.CONTEXT_LEN])
                          + encode(P.TAG_TRANSFER_KEY_ID, s.pending_in[-2:]))
        return out

    def pending_resolve(self, p1, data):
        """The payer answers a payee's pending record: the reception challenge if it debited
        (so the payee can credit), else an abort proof, after which it can never debit it."""
        f = parse(data)
        context = bytes(need(f, P.TAG_CONTEXT, T.CONTEXT_LEN))
        key_id = need_uint(f, P.TAG_TRANSFER_KEY_ID, 2)
        s = self.state
        c = T.unpack(context)
        _check(c[3] == s.card_id, P.SW_WRONG_DATA)
        if s.pending_out is not None and s.pending_out[: T.CONTEXT_LEN] == context:
            key = s.pending_out[T.CONTEXT_LEN : T.CONTEXT_LEN + _SK]
            return encode(P.TAG_RX_CHALLENGE, T.mac(key, T.RX_CHALLENGE))
        entry = self._logged(P.LOG_OUT, c[7], 7)
        if entry is not None:
            return encode(P.TAG_RX_CHALLENGE, entry[1 + T.CONTEXT_LEN:])
        if self.tx_session is not None and T.unpack(self.tx_session)[7] == c[7]:
            self.tx_session = None
        if key_id == s.transfer_key_id:
            transfer_key = s.transfer_key
        else:
            _check(key_id == s.prev_transfer_key_id and s.prev_transfer_key, P.SW_NOT_FOUND)
            transfer_key = s.prev_transfer_key
        key = T.session_key(transfer_key, context)
        return encode(P.TAG_ABORT_PROOF, T.mac(key, T.ABORT_PROOF))

    def value_rx_abort(self, p1, data):
        """The payer's abort proof drops the payee's tentative credit: no value moved."""
        f = parse(data)
        proof = need(f, P.TAG_ABORT_PROOF, P.MAC_LEN)
        rx_random = bytes(need(f, P.TAG_RX_RANDOM, P.RANDOM_LEN))
        s = self.state
        pending = s.pending_in
        _check(pending is not None and T.unpack(pending[: T.CONTEXT_LEN])[8] == rx_random,
               P.SW_NOT_FOUND)
        key = pending[T.CONTEXT_LEN : T.CONTEXT_LEN + _SK]
        _check(T.check(key, T.ABORT_PROOF, proof), P.SW_SECURITY)
        s.pending_in = None
        self._save()
        return b""

    # -- balances and log --------------------------------------------------------------------

    def get_balance(self, p1, data):
        """Value balance and maximum of one purse (P1), or of every purse (P1 = 0)."""
        _check(not data, P.SW_WRONG_LENGTH)
        purses = self.state.purses
        _check(p1 == 0 or p1 in purses, P.SW_NOT_FOUND)
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
        _check(not data, P.SW_WRONG_LENGTH)
        log = self.state.log
        _check(p1 <= len(log), P.SW_WRONG_P1P2)
        return b"".join(encode(P.TAG_LOG_ENTRY, e) for e in log[p1 : p1 + _LOG_PAGE])

    def _log(self, direction, context, mac):
        log = self.state.log
        log.append(bytes((direction,)) + bytes(context) + bytes(mac))
        if len(log) > P.LOG_SIZE:
            log.pop(0)

    def _logged(self, direction, random, field):
        """The log entry of `direction` whose context field `field` (a random) equals `random`."""
        for entry in self.state.log:
            if entry[0] == direction and T.unpack(entry[1 : 1 + T.CONTEXT_LEN])[field] == random:
                return entry
        return None

    # -- personalization -----------------------------------------------------------------------

    def initialize(self, p1, data):
        """Blank -> personalization: the card's identity and diversified personalization key,
        loaded once in the issuer's secure room (GlobalPlatform calls this pre-personalization)."""
        f = parse(data)
        s = self.state
        s.card_id = bytes(need(f, P.TAG_CARD_ID, P.CARD_ID_LEN))
        s.perso_key = bytes(need(f, P.TAG_PERSO_KEY, P.KEY_LEN))
        s.perso_counter = 0
        s.life_cycle = P.STATE_PERSONALIZATION
        self._save()
        return b""

    def _open_perso(self, ins, data):
        from common.perso import open_ as open_perso  # only personalization needs it

        s = self.state
        plain = open_perso(s.perso_key, s.perso_counter,
                           bytes((P.CLA_PROPRIETARY, ins, 0, 0)), data)
        _check(plain is not None, P.SW_SECURITY)
        s.perso_counter += 1
        return plain

    def personalize(self, p1, data):
        """Load keys, key IDs and their upper limits, term of validity, scheme and purses."""
        from common.perso import FIELDS

        plain = self._open_perso(P.INS_PERSONALIZE, data)
        s = self.state
        for tag, value in items(plain):
            field = FIELDS.get(tag)
            if field is not None:
                name, size = field
                _check(len(value) == size, P.SW_WRONG_DATA)
                setattr(s, name, bytes(value) if size == P.KEY_LEN
                        else int.from_bytes(bytes(value), "big"))
            elif tag == P.TAG_PURSE_RECORD:
                p = parse(value)
                balance = need_uint(p, P.TAG_BALANCE, 4)
                maximum = need_uint(p, P.TAG_MAX_BALANCE, 4)
                _check(balance <= maximum <= _MAX_AMOUNT, P.SW_WRONG_DATA)
                s.purses[need_uint(p, P.TAG_PURSE, 1)] = [balance, maximum]
            else:
                raise Reject(P.SW_WRONG_DATA)
        self._save()
        return b""

    def lock(self, p1, data):
        """Personalization -> active, for good: only a complete card may be locked."""
        self._open_perso(P.INS_LOCK, data)
        s = self.state
        _check(s.transfer_key and s.update_key and s.validity and s.purses and s.scheme,
               P.SW_WRONG_STATE)
        _check(0 < s.transfer_key_id <= s.transfer_key_limit, P.SW_WRONG_STATE)
        _check(0 < s.update_key_id <= s.update_key_limit, P.SW_WRONG_STATE)
        s.life_cycle = P.STATE_ACTIVE
        self._save()
        return b""


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
    P.INS_PENDING_RESOLVE: Applet.pending_resolve,
    P.INS_VALUE_RX_ABORT: Applet.value_rx_abort,
    P.INS_GET_PENDING: Applet.get_pending,
    P.INS_GET_BALANCE: Applet.get_balance,
    P.INS_GET_LOG: Applet.get_log,
    P.INS_INITIALIZE: Applet.initialize,
    P.INS_PERSONALIZE: Applet.personalize,
    P.INS_LOCK: Applet.lock,
}

# The life cycle state each command needs (None: any)
_LIFE_CYCLE = {
    P.INS_GET_CARD_INFO: None,
    P.INS_INITIALIZE: P.STATE_BLANK,
    P.INS_PERSONALIZE: P.STATE_PERSONALIZATION,
    P.INS_LOCK: P.STATE_PERSONALIZATION,
}
for _ins in _HANDLERS:
    if _ins not in _LIFE_CYCLE:
        _LIFE_CYCLE[_ins] = P.STATE_ACTIVE
