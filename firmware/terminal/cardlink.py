"""One card as the settlement program sees it: APDUs over any `transmit(bytes) -> bytes`.

Each exchange is timed and handed to an optional trace callback labelled with its seed step,
which is how the host prints its APDU trace.
"""
import time

from common import proto as P
from common.apdu import command, split_response
from common.tlv import TlvError, parse


class SettlementError(Exception):
    """A step failed; `str()` says which step, which card and why."""

    def __init__(self, step, reason, sw=None):
        super().__init__("%s: %s" % (step, reason))
        self.step = step
        self.reason = reason
        self.sw = sw


class CardLink:
    def __init__(self, channel, label, trace=None):
        self.channel = channel
        self.label = label  # "A" (payer side) or "B", the seed's read/write means
        self.trace = trace
        self.exchanges = 0
        self.bytes_out = 0
        self.bytes_in = 0

    def send(self, step, cla, ins, data=b"", p1=0, p2=0, raw=False):
        """Run one command; the response's TLV fields (its bytes when `raw`), or
        SettlementError naming the step."""
        apdu = command(cla, ins, p1, p2, data)
        start = time.ticks_ms()
        try:
            resp = self.channel.transmit(apdu)
        except Exception as e:  # noqa: BLE001 - any link failure ends the step
            raise SettlementError(step, "card %s did not answer (%s)" % (self.label, e)) from None
        elapsed = time.ticks_diff(time.ticks_ms(), start)
        self.exchanges += 1
        self.bytes_out += len(apdu)
        self.bytes_in += len(resp)
        if self.trace:
            self.trace(step, self.label, apdu, resp, elapsed)
        try:
            data, sw = split_response(resp)
        except ValueError:
            raise SettlementError(step, "card %s sent a malformed response" % self.label) from None
        if sw != P.SW_OK:
            from common.status import describe  # loaded only when a card refuses

            raise SettlementError(step, "card %s refused: %s" % (self.label, describe(sw)), sw)
        if raw:
            return data
        try:
            return parse(data)
        except TlvError:
            raise SettlementError(step, "card %s sent malformed data" % self.label) from None

    def select(self, step):
        return self.send(step, P.CLA_ISO, P.INS_SELECT, P.AID, p1=0x04)

    def command(self, step, ins, data=b"", p1=0, raw=False):
        return self.send(step, P.CLA_PROPRIETARY, ins, data, p1, raw=raw)
