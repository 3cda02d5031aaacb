"""Bench (firmware side): the fast path in one process, timing the card's CPU per command.

argv: folder of personalized cards 1 and 2 (transfer key IDs 1 and 2). Prints one JSON line.
"""
import json
import sys
import time

from card.applet import Applet
from card.store import Store
from common import proto as P
from terminal.settlement import PURSES, settle

NAMES = {P.INS_SELECT: "SELECT", P.INS_KEY_OBTAIN: "KEY_OBTAIN", P.INS_KEY_UPDATE: "KEY_UPDATE",
         P.INS_VALUE_TX_PERMISSION: "S2001", P.INS_VALUE_RX_PERMISSION: "S2002",
         P.INS_VALUE_TX: "S2003", P.INS_VALUE_RX: "S2004", P.INS_VALUE_TX_CONFIRM: "S2005"}


class Timed:
    """An applet as a channel, adding the time it spends on each command to `cpu`."""

    def __init__(self, applet, cpu):
        self.applet = applet
        self.cpu = cpu

    def transmit(self, apdu):
        start = time.ticks_us()
        resp = self.applet.process(apdu)
        name = NAMES.get(apdu[1], hex(apdu[1]))
        self.cpu[name] = self.cpu.get(name, 0) + time.ticks_diff(time.ticks_us(), start)
        return resp


root = sys.argv[1]
cpu_roll = {}
a = Timed(Applet(Store(root + "/card1")), cpu_roll)
b = Timed(Applet(Store(root + "/card2")), cpu_roll)
roll = settle(b, a, PURSES["money"], 100, 20261125)
cpu_plain = {}
a.cpu = b.cpu = cpu_plain
plain = settle(a, b, PURSES["money"], 10, 20261125)
print(json.dumps({
    "exchanges_roll_transfer": roll["exchanges"],
    "exchanges_transfer": plain["exchanges"],
    "bytes_on_air_roll_transfer": roll["bytes_to_cards"] + roll["bytes_from_cards"],
    "bytes_on_air_transfer": plain["bytes_to_cards"] + plain["bytes_from_cards"],
    "bytes_to_cards_roll_transfer": roll["bytes_to_cards"],
    "bytes_from_cards_roll_transfer": roll["bytes_from_cards"],
    "card_cpu_us_per_command_roll_transfer": cpu_roll,
    "card_cpu_ms_roll_transfer": sum(cpu_roll.values()) / 1000,
    "card_cpu_ms_transfer": sum(cpu_plain.values()) / 1000,
}))
