"""`upurse transfer --interrupt-after STEP`: both cards leave the field right after a seed step.

A `FieldCut` wraps each card's channel. Once a command of STEP has been answered, the next
command of any other step, to either card, raises `CardsLeftError` instead of reaching the card:
exactly what a terminal sees when the cards are pulled between two steps.
"""
from __future__ import annotations

from upurse.cardproc import LinkError
from upurse.protocol import INS

# Seed steps a transfer can be cut after, and the command that makes each one
STEPS = {
    "S1001": INS.SELECT,  # both cards selected (S1002 and S1004 ride on it)
    "S1005": INS.KEY_OBTAIN,
    "S1006": INS.KEY_UPDATE,
    "S2001": INS.VALUE_TX_PERMISSION,
    "S2002": INS.VALUE_RX_PERMISSION,
    "S2003": INS.VALUE_TX,
    "S2004": INS.VALUE_RX,
}


class CardsLeftError(LinkError):
    """The cards left the field (a simulated interruption)."""


class FieldCut:
    def __init__(self, step: str):
        self.step = step
        self._ins = STEPS[step]
        self.seen = False  # STEP was answered
        self.fired = False  # a later command was cut

    def wrap(self, channel) -> _CutChannel:
        return _CutChannel(self, channel)

    def transmit(self, channel, apdu: bytes) -> bytes:
        ins = apdu[1]
        if self.fired or (self.seen and ins != self._ins):
            self.fired = True
            raise CardsLeftError(f"the cards left the field after {self.step}")
        resp = channel.transmit(apdu)
        if ins == self._ins and resp[-2:] == b"\x90\x00":
            self.seen = True
        return resp


class _CutChannel:
    def __init__(self, cut: FieldCut, channel):
        self.cut = cut
        self.channel = channel

    def transmit(self, apdu: bytes) -> bytes:
        return self.cut.transmit(self.channel, apdu)
