"""P-256 figures: ms per sign, verify, ecdh, public_key, allocations and heap, pure and native.

    python -m upurse.bench_p256 [--rounds 50]
    python -m upurse.bench_p256 --qemu      # instructions on the QEMU board, pure and native

Pure Python on MicroPython and on CPython, and unix MicroPython with the x64 native module
(firmware/natmod); upurse.bench_crypto sets them against OpenSSL. `measure()` returns them as
a dict (host/upurse/bench.py puts it into build/bench.json). Figures only: no test asserts on
them.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

from upurse import natmod
from upurse.build import BOARDS, ROOT, mpy_cross
from upurse.interpreters import INTERPRETERS, command
from upurse.port import FIRMWARE

OPS = ("sign", "verify", "ecdh", "public_key")
SCRIPT = Path(__file__).resolve().parent / "benchscripts" / "p256.py"
HEAP_SCRIPT = ROOT / "tests" / "mpy" / "p256_heap.py"  # sign, verify, ECDH both ways
MODULES = ("common/p256.py", "common/p256_group.py", "common/p256_mul.py", "common/p256_joint.py",
           "common/p256_comb.py", "common/hmac_sha256.py")


def _run(interpreter: str, script: Path, *args: str, heap: str | None = None,
         path: tuple[Path, ...] = ()) -> subprocess.CompletedProcess:
    argv, env = command(interpreter, script, *args, heap=heap, path=path)
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)


def timings(interpreter: str, rounds: int = 50, teeth: int = 0, heap: str | None = None,
            path: tuple[Path, ...] = ()) -> dict:
    """One run of the firmware-side bench: ms and allocation figures per operation."""
    proc = _run(interpreter, SCRIPT, str(rounds), str(teeth), heap=heap, path=path)
    if proc.returncode:
        raise RuntimeError(f"{interpreter} bench failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compile_p256(out: Path) -> Path:
    """p256 and its HMAC as .mpy under out/common (what a board's flash would hold)."""
    for rel in MODULES:
        dst = out / Path(rel).with_suffix(".mpy")
        dst.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([mpy_cross(), "-O3", "-o", str(dst), "-s", rel, str(FIRMWARE / rel)],
                       check=True, capture_output=True)
    return out


def min_heap_kb(path: tuple[Path, ...] = (), lo: int = 8, hi: int = 256) -> int:
    """Smallest `micropython -X heapsize` (KB) in which sign + verify + 2 ECDH still run."""
    while lo < hi:
        mid = (lo + hi) // 2
        if _run("micropython", HEAP_SCRIPT, heap=f"{mid}k", path=path).returncode == 0:
            hi = mid
        else:
            lo = mid + 1
    return lo


def measure(rounds: int = 50) -> dict:
    out: dict = {interp: timings(interp, rounds) for interp in INTERPRETERS}
    native = (natmod.build("x64").parent,)
    out["micropython_native"] = timings("micropython", rounds, path=native)
    # a card's heap is small: the GC then runs every few dozen KB of the ~1 MB an ECDH allocates
    out["micropython_heap64k"] = timings("micropython", rounds, heap="64k")
    out["micropython_table64"] = timings("micropython", rounds, teeth=64)
    with tempfile.TemporaryDirectory() as tmp:
        mpy = compile_p256(Path(tmp))
        out["min_heap_kb"] = {"source": min_heap_kb(), "mpy": min_heap_kb((mpy,)),
                              "mpy_native": min_heap_kb((mpy, *native))}
    return out


def microcontroller(rounds: int = 2) -> dict:
    """P-256 on the QEMU board (boards/qemu: a Cortex-M4, -icount: exact instruction counts),
    pure Python and with the native module: instructions and bytes allocated per operation, and
    the card CPU of a public-key roll + transfer, both cards (the goals' figures, flat)."""
    from upurse import bench_qemu
    from upurse.qemu import run_script

    arch = natmod.board_arch(BOARDS / "qemu" / "board.py")
    native = (natmod.build(arch).parent,)
    out: dict = {"board": "qemu mps2-an386 (Cortex-M4), firmware frozen", "natmod_arch": arch}
    for name, path in (("pure", ()), ("native", native)):
        proc = run_script(SCRIPT, str(rounds), "0", path=path, icount=True)
        if proc.returncode:
            raise RuntimeError(f"QEMU P-256 bench ({name}): {proc.stdout[-500:]}")
        f = json.loads(proc.stdout.strip().splitlines()[-1])
        out[name] = {"native": f["native"],  # 1000 instructions a tick of time.ticks_us
                     "instructions": {op: round(f["ms"][op] * 1e6) for op in OPS},
                     "bytes_allocated_per_op": f["bytes_allocated_per_op"]}
    with tempfile.TemporaryDirectory() as tmp:
        rolls = {name: bench_qemu.commands(Path(tmp), "public-key", path=path)["roll_transfer"]
                 for name, path in (("pure", ()), ("native", native))}
    out["public_key_roll_transfer"] = rolls
    out["public_key_roll_instructions"] = rolls["native"]["instructions"]
    for op in ("sign", "verify", "ecdh"):
        out[f"p256_{op}_instructions"] = out["native"]["instructions"][op]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--qemu", action="store_true", help="the QEMU board's figures only")
    args = parser.parse_args()
    if args.qemu:
        print(json.dumps(microcontroller(), indent=2))
        return
    figures = measure(args.rounds)
    for name in (*INTERPRETERS, "micropython_native", "micropython_heap64k",
                 "micropython_table64"):
        f = figures[name]
        ops = ", ".join(f"{op} {f['ms'][op]:.3f}" for op in OPS)
        build = f"; table build {f['table_build_ms']:.1f} ms" if "table_build_ms" in f else ""
        print(f"{name:20} ms/op: {ops}{build}")
        if "bytes_allocated_per_op" in f:
            churn = ", ".join(f"{op} {f['bytes_allocated_per_op'][op] // 1024}" for op in OPS)
            print(f"{'':20} KB allocated/op (GC reclaims): {churn}; "
                  f"live heap after {f['live_heap_bytes'] // 1024} KB")
        if "tracemalloc_peak_bytes" in f:
            print(f"{'':20} tracemalloc peak over one of each: "
                  f"{f['tracemalloc_peak_bytes'] // 1024} KB")
    heap = figures["min_heap_kb"]
    print(f"smallest micropython heap for sign+verify+2 ECDH: {heap['source']} KB importing "
          f"source, {heap['mpy']} KB importing .mpy, {heap['mpy_native']} KB .mpy + native")


if __name__ == "__main__":
    main()
