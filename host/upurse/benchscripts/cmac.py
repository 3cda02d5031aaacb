"""Bench (firmware side): ms per AES-CMAC of a 64-byte message (the size of a transfer context
MAC input). argv: rounds. Prints one JSON line."""
import json
import sys
import time

from common.cmac import cmac

rounds = int(sys.argv[1])
key, msg = bytes(range(16)), bytes(range(64))
start = time.ticks_us()
for _ in range(rounds):
    cmac(key, msg)
print(json.dumps({"cmac64": time.ticks_diff(time.ticks_us(), start) / rounds / 1000}))
