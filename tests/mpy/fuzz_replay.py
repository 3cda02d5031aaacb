"""Replay the saved fuzz corpus (tests/corpus/*.hex) on this interpreter, with the fuzzer's checks.

Each file is one sequence against three fresh cards (as in tests/test_fuzz.py): a line `N HEX`
sends the command to card N (HEX may be empty), `N !` power-cycles card N, `#` starts a
comment. The cards' random numbers differ from the recording, so replayed honest steps are
mostly refused now; what must hold is what tests/mpy/fuzzcheck.py checks for every command.

    MICROPYPATH=tests/mpy:firmware micropython tests/mpy/fuzz_replay.py /tmp/x tests/corpus/*.hex
"""
import sys
from binascii import unhexlify

from fieldlab import World
from fuzzcheck import Checked

PROFILES = {1: {}, 2: {}, 3: {"transfer_key_id": 2}}

root = sys.argv[1]
files = sys.argv[2:]
commands = refused = 0
for i, path in enumerate(files):
    lab = Checked(World(f"{root}/w{i % 2}", PROFILES))
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            n, what = parts[0], parts[1] if len(parts) > 1 else ""  # an empty command
            if what == "!":
                lab.cards[int(n)].boot()
            else:
                lab.transmit(int(n), unhexlify(what))
    commands += lab.commands
    refused += lab.refused
print(f"OK corpus {len(files)} files {commands} commands {refused} refused")
