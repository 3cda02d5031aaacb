"""Bench (firmware side, MicroPython): what a tap puts on the air and asks of each flash.

argv: geometry ("esp32" or "rp2040"). Personalizes cards 1 (transfer key ID 1) and 2 (ID 2),
each on its own counted littlefs flash (tests/mpy/flashcount.py), the terminal's journal on a
third, then runs the taps as the terminal's service does (terminal/service.py: the journal's
recovery check, then the settlement witnessed into the journal): a roll + transfer, then a
transfer; then a roll + transfer of each other key-update scheme (public key, pre-loaded,
hybrid with update key) on fresh cards. For the seed's literal flow it also sends the commands
our terminal folds into SELECT (GET CARD INFO to each card, KEY UPDATE PERMISSION to the older one).

Prints one JSON line: per flow, the list of exchanges in order, each
{card, ins, step, cmd, rsp, card_us, card_flash: [programs, bytes, erases],
terminal_us, terminal_flash: [...]}; "terminal" is what the terminal did after the answer,
before its next command (the journal write included). "steady" sums each command's flash
use over STEADY_TAPS more transfers: littlefs erases a block only when one fills, so one tap
says little about the rate.
"""
import json
import sys
import time

from cards import UPDATE_KEYS, make_card
from flashcount import GEOMETRIES, Flash

from card.applet import Applet
from card.store import Store
from common import proto as P
from common.apdu import command
from terminal.journal import Journal
from terminal.resume import recover
from terminal.settlement import PURSES, settle
from terminal.witness import Witness

STEADY_TAPS = 12  # transfers after the first two: flash erases come in lumps, so average them
NAMES = {getattr(P, n): n[4:] for n in dir(P) if n.startswith("INS_")}

geometry = GEOMETRIES[sys.argv[1]]
term = Flash("/term", geometry)
cards = {}  # name -> (store folder, its flash)


def new_card(name, n, **kw):
    """Card n (tests/mpy/cards.py) on a fresh flash mounted at /name."""
    cards[name] = (f"/{name}/card{n}", Flash("/" + name, geometry))
    make_card("/" + name, n, **kw)


new_card("1", 1, transfer_key_id=1)
new_card("2", 2, transfer_key_id=2)


class Recorder:
    """Both cards' channels: each exchange with its sizes, card CPU and both flashes."""

    def __init__(self):
        self.log = []
        self.mark = None  # (ticks, terminal flash) when the last answer came back

    def close(self):
        """Give the terminal's work since the last answer to the last exchange."""
        if self.mark is not None and self.log:
            last = self.log[-1]
            last["terminal_us"] = time.ticks_diff(time.ticks_us(), self.mark[0])
            last["terminal_flash"] = term.since(self.mark[1])
        self.mark = None

    def channel(self, name):
        recorder = self
        folder, dev = cards[name]
        applet = Applet(Store(folder))

        class Channel:
            def transmit(self, apdu):
                recorder.close()
                before = dev.snapshot()
                start = time.ticks_us()
                rsp = applet.process(apdu)
                took = time.ticks_diff(time.ticks_us(), start)
                recorder.log.append({"card": name, "ins": NAMES.get(apdu[1], hex(apdu[1])),
                                     "cmd": len(apdu), "rsp": len(rsp), "card_us": took,
                                     "card_flash": dev.since(before), "terminal_us": 0,
                                     "terminal_flash": (0, 0, 0)})
                recorder.mark = (time.ticks_us(), term.snapshot())
                return rsp

        return Channel()


def tap(payer, payee, purse, amount, date):
    """One tap as terminal/service.py runs it; the recorded exchanges."""
    rec = Recorder()
    a, b = rec.channel(payer), rec.channel(payee)
    journal = Journal("/term/journal")
    recover([("A", a), ("B", b)], journal)
    receipt = settle(a, b, PURSES[purse], amount, date, trace=Witness(journal))
    rec.close()
    return receipt, rec.log


out = {}
receipt, out["roll_transfer"] = tap("2", "1", "money", 100, 20261125)
assert receipt["key_roll"] == "update-key", receipt
out["settlement_exchanges_roll_transfer"] = receipt["exchanges"]
receipt, out["transfer"] = tap("1", "2", "points", 5, 20261126)
assert receipt["key_roll"] == "none", receipt
out["settlement_exchanges_transfer"] = receipt["exchanges"]
steady = {}  # per command: card and terminal flash summed over more transfers, and calls
for i in range(STEADY_TAPS):
    payer, payee = ("2", "1") if i % 2 else ("1", "2")
    for e in tap(payer, payee, "money", 1, 20261127)[1]:
        s = steady.setdefault(e["ins"], [0, [0, 0, 0], [0, 0, 0]])
        s[0] += 1
        for k in range(3):
            s[1][k] += e["card_flash"][k]
            s[2][k] += e["terminal_flash"][k]
out["steady"] = {ins: {"calls": s[0], "card_flash": s[1], "terminal_flash": s[2]}
                 for ins, s in steady.items()}
extra = Recorder()
for name, ins in (("1", P.INS_GET_CARD_INFO), ("2", P.INS_GET_CARD_INFO),
                  ("1", P.INS_KEY_UPDATE_PERMISSION)):
    channel = extra.channel(name)
    channel.transmit(command(P.CLA_ISO, P.INS_SELECT, 4, 0, P.AID))
    rsp = channel.transmit(command(P.CLA_PROPRIETARY, ins))
    assert rsp[-2:] == b"\x90\x00", rsp
extra.close()
out["literal_extra"] = [e for e in extra.log if e["ins"] != "SELECT"]

# the other key rolls (embodiments 2-5): card 2 (generation 2) pays card 1, which rolls forward
SCHEMES = (("pki", lambda n: {"scheme": P.SCHEME_PKI}),
           ("preloaded", lambda n: {"scheme": P.SCHEME_PRELOADED, "preloaded": (1, 2, 3)}),
           ("hybrid-update", lambda n: {"scheme": P.SCHEME_HYBRID_UPDATE, "update_key_id": n,
                                        "update_key": UPDATE_KEYS[n]}))
for scheme, profile in SCHEMES:
    for n in (1, 2):
        new_card(f"k{n}", n, transfer_key_id=n, **profile(n))
    receipt, log = tap("k2", "k1", "money", 100, 20261125)
    assert receipt["key_roll"] != "none", receipt
    out["roll_transfer_" + scheme] = log
    out["settlement_exchanges_roll_transfer_" + scheme] = receipt["exchanges"]
    for n in (1, 2):
        cards.pop(f"k{n}")[1].unmount()
print(json.dumps(out))
