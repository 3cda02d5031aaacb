"""What every command a fuzzer sends must satisfy; shared by tests/test_fuzz.py (hypothesis, on
CPython) and tests/mpy/fuzz_replay.py (the saved corpus, on MicroPython).

`Checked(world)` is a lab for `driver.Run`; each `transmit(n, apdu)` goes to card n and then:

- the response is at least a status word, and that word is one of common/proto.py's SW_*, and
  never SW_UNKNOWN (an exception inside the card);
- a refused command answers its status word alone and leaves the stored record byte-identical;
- no response holds 8 bytes in a row of any key: transfer, previous transfer, update and
  personalization keys, the card's secret key, pre-loaded keys, and the session keys of every
  pending record and logged transfer (under every transfer key the cards hold);
- balances plus unclaimed pending debits are unchanged and no transfer key ID went back
  (fieldlab.World.check).
"""
from cards import TRANSFER_KEYS

from common import proto as P
from common import transfer as T

SWS = [getattr(P, name) for name in dir(P) if name.startswith("SW_")]
ALLOWED = [sw for sw in SWS if sw != P.SW_UNKNOWN]
_KEYS = ("perso_key", "transfer_key", "old_transfer_keys", "update_key", "card_secret_key")
_WINDOW = 8
_ALL_TRANSFER_KEYS = list(TRANSFER_KEYS.values())


class Checked:
    def __init__(self, world):
        self.world = world
        self.cards = world.cards
        self.commands = 0
        self.refused = 0
        self.seen = {}  # (ins, sw) -> times
        self._secrets = {}  # stored record -> its 8-byte key windows
        self._session = {}  # context -> session-key windows under every transfer key

    def transmit(self, n, apdu):
        card = self.cards[n]
        before = card.store.record
        resp = card.transmit(apdu)
        assert len(resp) >= 2, ("no status word", apdu)
        sw = (resp[-2] << 8) | resp[-1]
        assert sw in ALLOWED, (f"status word {sw:04X}", bytes(apdu).hex())
        if sw != P.SW_OK:
            self.refused += 1
            assert len(resp) == 2, ("data with a refusal", bytes(apdu).hex())
            assert card.store.record == before, ("refused, yet changed", bytes(apdu).hex())
        self._no_keys(resp, apdu)
        self.world.check(("after", bytes(apdu).hex()))
        self.commands += 1
        key = (apdu[1] if len(apdu) > 1 else -1, sw)
        self.seen[key] = self.seen.get(key, 0) + 1
        return resp

    def channel(self, n):
        return _Channel(self, n)

    def _no_keys(self, resp, apdu):
        windows = set()
        for card in self.cards.values():
            windows |= self._windows_of(card.store.record)
        for i in range(len(resp) - _WINDOW + 1):
            assert bytes(resp[i : i + _WINDOW]) not in windows, ("key material", bytes(apdu).hex())

    def _windows_of(self, record):
        got = self._secrets.get(record)
        if got is not None:
            return got
        got = set()
        if record:
            from card.state import CardState

            s = CardState.decode(record)
            keys = [getattr(s, name, None) for name in _KEYS]
            keys += list((getattr(s, "preloaded", None) or {}).values())
            for rec in (s.pending_out, s.pending_in):
                if rec is not None:
                    keys.append(T.record_key(rec))
                    got |= self._session_windows(rec[: T.CONTEXT_LEN])
            for entry in s.log:
                got |= self._session_windows(entry[1 : 1 + T.CONTEXT_LEN])
            for key in keys:
                if key:
                    got |= _windows(key)
        if len(self._secrets) > 256:
            self._secrets.clear()
        self._secrets[record] = got
        return got

    def _session_windows(self, context):
        got = self._session.get(context)
        if got is None:
            got = set()
            for key in _ALL_TRANSFER_KEYS:
                got |= _windows(T.session_key(key, context))
            self._session[context] = got
        return got


def _windows(key):
    key = bytes(key)
    return set(key[i : i + _WINDOW] for i in range(len(key) - _WINDOW + 1))


class _Channel:
    def __init__(self, checked, n):
        self.checked = checked
        self.n = n

    def transmit(self, apdu):
        return self.checked.transmit(self.n, apdu)
