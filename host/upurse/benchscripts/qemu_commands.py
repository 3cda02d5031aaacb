"""Bench (firmware side, QEMU board only): instructions and flash work per card command.

    qemu_commands.py FOLDER fast|public-key

Runs under `-icount shift=0`, where time.ticks_us() advances once per 1000 instructions: the
instructions a card spends in each command, and the flash programs and erases it makes
(boards/qemu/flash.py counts them). `fast`: cards 1 and 2 of make_cards.py, key roll by update
key plus a transfer, then a plain transfer. `public-key`: cards 1 and 2 of pk_cards.py, the
public-key roll plus a transfer. Prints one JSON line.
"""
import json
import sys
import time

import qemuboot

from card.applet import Applet
from card.store import Store
from common import proto as P
from terminal.settlement import settle

NAMES = {v: k[4:] for k, v in P.__dict__.items() if k.startswith("INS_")}


class Counted:
    """An applet as a channel, adding each command's instructions and flash work to `into`."""

    def __init__(self, applet):
        self.applet = applet
        self.into = {}

    def transmit(self, apdu):
        flash = qemuboot.FLASH
        programs, erases = flash.programs, flash.erases
        start = time.ticks_us()
        resp = self.applet.process(apdu)
        used = time.ticks_diff(time.ticks_us(), start) * 1000
        row = self.into.setdefault(NAMES.get(apdu[1], hex(apdu[1])),
                                   {"count": 0, "instructions": 0, "programs": 0, "erases": 0})
        row["count"] += 1
        row["instructions"] += used
        row["programs"] += flash.programs - programs
        row["erases"] += flash.erases - erases
        return resp


def flow(a, b, amount, date):
    a.into, b.into = {}, {}
    r = settle(b, a, P.PURSE_MONEY, amount, date)
    commands = {}
    for card in (a, b):
        for name, row in card.into.items():
            total = commands.setdefault(name, dict.fromkeys(row, 0))
            for k in row:
                total[k] += row[k]
    return {"key_roll": r["key_roll"], "exchanges": r["exchanges"], "commands": commands,
            "instructions": sum(c["instructions"] for c in commands.values())}


root, kind = sys.argv[1], sys.argv[2]
a = Counted(Applet(Store(root + "/card1")))
b = Counted(Applet(Store(root + "/card2")))
rolled = flow(a, b, 100, 20261125)
plain = flow(b, a, 10, 20261126)
print(json.dumps({"roll_transfer": rolled, "transfer": plain}))
