"""Replay the applet case table and the settlement flows on this interpreter.

    MICROPYPATH=tests/mpy:firmware micropython tests/mpy/check_applet.py /tmp/cards [name...]

The cards' stores go in fresh folders under the given one (which must not exist yet). With
names, only the rows whose name starts with one of them run. Prints a line per failure, the
commands that succeeded and the status words seen, then `OK applet <n> cases <m> flows`.
"""
import os
import sys

from applet_cases import CASES, Lab, run_case
from applet_flows import FLOWS

from common import proto as P

root = sys.argv[1]
only = sys.argv[2:]
os.mkdir(root)
failed = 0
ran = [0, 0]
succeeded = {}  # INS -> cases where it succeeded
statuses = {}  # status word -> cases that expect it


def wanted(name):
    return not only or [1 for prefix in only if name.startswith(prefix)]


for i, row in enumerate(CASES + FLOWS):
    name = row[0]
    if not wanted(name):
        continue
    kind = 0 if i < len(CASES) else 1
    ran[kind] += 1
    try:
        if kind == 0:
            ins, sw = run_case(Lab(f"{root}/{i}"), row)
            statuses[sw] = statuses.get(sw, 0) + 1
            if sw == P.SW_OK:
                succeeded[ins] = succeeded.get(ins, 0) + 1
        else:
            row[1](Lab(f"{root}/{i}"))
    except Exception as e:  # noqa: BLE001 - report every row, then fail
        failed += 1
        print(f"FAIL {name}: {type(e).__name__} {e}")
print("succeeded", " ".join(f"{k:02X}:{succeeded[k]}" for k in sorted(succeeded)))
print("statuses", " ".join(f"{k:04X}:{statuses[k]}" for k in sorted(statuses)))
print(f"ran {ran[0]} cases {ran[1]} flows, {failed} failed")
if failed:
    sys.exit(1)
print(f"OK applet {ran[0]} cases {ran[1]} flows")
