"""Bench (firmware side): ms per P-256 operation and bytes allocated per operation.

argv: rounds, teeth (0, the default: no fixed-base table, each k*G builds its small table;
more calls enable_fixed_base_table). Prints one JSON line. On MicroPython `mem_total` counts
every allocation, also the ones the GC reclaims later: it is churn per operation, not peak
heap (the host finds that with -X heapsize).
"""
import gc
import json
import sys
import time

from common import p256, p256_group

try:
    from micropython import mem_total
except ImportError:  # CPython port: no allocation counter
    mem_total = None
try:
    import tracemalloc
except ImportError:  # MicroPython
    tracemalloc = None

rounds = int(sys.argv[1])
teeth = int(sys.argv[2])
out = {"rounds": rounds, "teeth": teeth, "native": bool(p256_group.NATIVE)}
if teeth:
    start = time.ticks_us()
    p256.enable_fixed_base_table(teeth)
    out["table_build_ms"] = time.ticks_diff(time.ticks_us(), start) / 1000

priv, pub = p256.generate()
peer_priv, peer_pub = p256.generate()
digest = bytes(range(32))
sig = p256.sign(priv, digest)
ops = (("sign", p256.sign, (priv, digest)), ("verify", p256.verify, (pub, digest, sig)),
       ("ecdh", p256.ecdh, (priv, peer_pub)), ("public_key", p256.public_key, (priv,)))
ms = {}
churn = {}
for name, fn, args in ops:
    gc.collect()
    before = mem_total() if mem_total else 0
    start = time.ticks_us()
    for _ in range(rounds):
        fn(*args)
    ms[name] = round(time.ticks_diff(time.ticks_us(), start) / rounds / 1000, 3)
    if mem_total:
        churn[name] = (mem_total() - before) // rounds
out["ms"] = ms
if churn:
    out["bytes_allocated_per_op"] = churn
gc.collect()
if hasattr(gc, "mem_alloc"):
    out["live_heap_bytes"] = gc.mem_alloc()
if tracemalloc:
    tracemalloc.start()
    for _, fn, args in ops:
        fn(*args)
    out["tracemalloc_peak_bytes"] = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
print(json.dumps(out))
