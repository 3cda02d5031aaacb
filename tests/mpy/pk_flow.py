"""Key rolls and transfers with all three roles in one process; card CPU per command.

    micropython pk_flow.py FOLDER

FOLDER holds card1 and card3 (older) and card2 from pk_cards.py. Card 2 pays card 1, which
makes the terminal roll card 1 forward (cold: the cards load the key-roll code and P-256
tables on first use); card 1 pays back with no roll; card 2 pays card 3 (warm: code loaded).
Prints one JSON line: the path taken, exchanges, card CPU per command of target and source
(us), the whole roll (ms, both cards), and the live heap after the flow.
"""
import gc
import json
import sys
import time

from card.applet import Applet
from card.store import Store
from common import proto as P
from terminal.settlement import settle

NAMES = {P.INS_SELECT: "SELECT", P.INS_GET_KEY_INFO: "GET_KEY_INFO",
         P.INS_PK_UPDATE_PERMISSION: "PK_UPDATE_PERMISSION", P.INS_PK_KEY_OBTAIN: "PK_KEY_OBTAIN",
         P.INS_PK_KEY_UPDATE: "PK_KEY_UPDATE", P.INS_PK_KEY_CONFIRM: "PK_KEY_CONFIRM",
         P.INS_KEY_OBTAIN: "KEY_OBTAIN", P.INS_KEY_UPDATE: "KEY_UPDATE",
         P.INS_KEY_ACTIVATION_OBTAIN: "KEY_ACTIVATION_OBTAIN", P.INS_KEY_ACTIVATE: "KEY_ACTIVATE"}


class Timed:
    """An applet as a channel, adding the time it spends on each key-roll command to `cpu`."""

    def __init__(self, applet):
        self.applet = applet
        self.cpu = {}

    def transmit(self, apdu):
        start = time.ticks_us()
        resp = self.applet.process(apdu)
        name = NAMES.get(apdu[1])
        if name is not None:
            self.cpu[name] = self.cpu.get(name, 0) + time.ticks_diff(time.ticks_us(), start)
        return resp


def roll(source, target, amount, date):
    source.cpu = {}
    target.cpu = {}
    r = settle(source, target, P.PURSE_MONEY, amount, date)
    assert target.applet.state.transfer_key == source.applet.state.transfer_key
    total = sum(target.cpu.values()) + sum(source.cpu.values())
    return r, {"target_us": target.cpu, "source_us": source.cpu, "total_ms": total / 1000}


root = sys.argv[1]
card1, card2, card3 = (Timed(Applet(Store(root + "/card" + str(n)))) for n in (1, 2, 3))
r, cold = roll(card2, card1, 100, 20261125)
assert r["payer_balance"] == 900 and r["payee_balance"] == 1100, r
back = settle(card1, card2, P.PURSE_MONEY, 10, 20261126)
assert back["key_roll"] == "none", back
r3, warm = roll(card2, card3, 10, 20261126)
assert r3["key_roll"] == r["key_roll"]
gc.collect()
print(json.dumps({
    "key_roll": r["key_roll"],
    "update_key_ids": [card1.applet.state.update_key_id, card2.applet.state.update_key_id],
    "exchanges": r["exchanges"],
    "bytes_on_air": r["bytes_to_cards"] + r["bytes_from_cards"],
    "card_cpu_cold": cold,
    "card_cpu_warm": warm,
    "live_heap_bytes": gc.mem_alloc() if hasattr(gc, "mem_alloc") else None,
}))
