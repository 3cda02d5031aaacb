"""`make bench`: round trips, bytes on air, card CPU and the smallest heap on both interpreters,
the modelled tap time of each flow on the reference rig (upurse.tapmodel), P-256 and the key
rolls, and our crypto against OpenSSL.

Prints the tables (upurse.benchtable) and writes every figure, with its goal, to
build/bench.json. Figures, never assertions: tests do not time anything (docs/performance.md).
"""
from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from upurse import bench_crypto, bench_tap, benchtable
from upurse.build import ROOT, compile_packages
from upurse.interpreters import command

SCRIPTS = Path(__file__).resolve().parent / "benchscripts"
TEST_HELPERS = ROOT / "tests" / "mpy"
RUNS = 5


def _run(interpreter: str, script: Path, *args: str, heap: str | None = None,
         path: tuple[Path, ...] = ()) -> subprocess.CompletedProcess:
    argv, env = command(interpreter, script, *args, heap=heap, path=(*path, TEST_HELPERS))
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)


def _cards(tmp: Path, interpreter: str) -> Path:
    folder = Path(tempfile.mkdtemp(dir=tmp))
    proc = _run(interpreter, TEST_HELPERS / "make_cards.py", str(folder))
    if proc.returncode:
        raise RuntimeError(proc.stderr)
    return folder


def flow(interpreter: str, tmp: Path, compiled: Path) -> dict:
    """Median card CPU over RUNS fresh runs of the fast path."""
    runs = []
    for _ in range(RUNS):
        proc = _run(interpreter, SCRIPTS / "flow.py", str(_cards(tmp, interpreter)),
                    path=(compiled,) if interpreter == "micropython" else ())
        if proc.returncode:
            raise RuntimeError(proc.stderr)
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    runs.sort(key=lambda r: r["card_cpu_ms_roll_transfer"])
    return runs[len(runs) // 2]


def min_heap_kb(tmp: Path, compiled: Path) -> int:
    """The smallest `micropython -X heapsize` (KB) at which the whole fast path still passes."""
    lo, hi = 16, 256
    while lo < hi:
        mid = (lo + hi) // 2
        proc = _run("micropython", TEST_HELPERS / "flow_inprocess.py",
                    str(_cards(tmp, "micropython")), heap=f"{mid}k", path=(compiled,))
        if proc.returncode == 0:
            hi = mid
        else:
            lo = mid + 1
    return lo


def main() -> None:
    steps = ("compile", "card CPU: micropython", "card CPU: cpython", "smallest heap",
             "microcontroller build", "tap model", "P-256 and key rolls", "OpenSSL ratios")
    out: dict = {}
    with tempfile.TemporaryDirectory() as t, progress() as bar:
        task = bar.add_task("bench", total=len(steps))

        def step(name: str) -> None:
            bar.update(task, description=name)

        tmp = Path(t)
        compiled = tmp / "mpy"
        step(steps[0])
        compile_packages(compiled, ("common", "card", "terminal"))
        bar.advance(task)
        per = {}
        for i in ("micropython", "cpython"):
            step(f"card CPU: {i}")
            per[i] = flow(i, tmp, compiled)
            bar.advance(task)
        mp = per["micropython"]
        for key in ("exchanges_roll_transfer", "exchanges_transfer", "bytes_on_air_roll_transfer",
                    "bytes_on_air_transfer", "bytes_to_cards_roll_transfer",
                    "bytes_from_cards_roll_transfer"):
            out[key] = mp[key]
        for key in ("card_cpu_ms_roll_transfer", "card_cpu_ms_transfer",
                    "card_cpu_us_per_command_roll_transfer"):
            out[key] = {i: per[i][key] for i in per}
        step(steps[3])
        out["min_heap_kb_roll_transfer"] = min_heap_kb(tmp, compiled)
        bar.advance(task)
        step(steps[4])
        out["microcontroller"] = optional_figures()
        bar.advance(task)
        step(steps[5])
        out["tap"] = bench_tap.measure(out["microcontroller"]["bench_qemu"])
        bar.advance(task)
        step(steps[6])
        out.update(extra_benches())
        bar.advance(task)
        step(steps[7])
        out["crypto_vs_openssl"] = bench_crypto.measure(out.get("p256"))
        bar.advance(task)
    out["goals"] = benchtable.goals(out)
    (ROOT / "build").mkdir(exist_ok=True)
    (ROOT / "build" / "bench.json").write_text(json.dumps(out, indent=2) + "\n")
    benchtable.show(out)
    print(f"every figure: {ROOT / 'build' / 'bench.json'}")


def progress():
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description:28}"), BarColumn(), TimeElapsedColumn(),
                    transient=True)


def optional_figures() -> dict:
    """The microcontroller build's figures, from the benches that measure them (branch
    `qemu`: upurse.bench_qemu.measure; P-256 native and pure, public-key roll:
    upurse.bench_p256.microcontroller) when present; "not measured" otherwise."""
    found = {}
    for name, function in (("bench_qemu", "measure"), ("bench_p256", "microcontroller")):
        try:
            module = __import__(f"upurse.{name}", fromlist=[function])
            measure = getattr(module, function)
        except (ImportError, AttributeError):
            found[name] = "not measured"
            continue
        found[name] = measure()
    return found


def extra_benches() -> dict:
    """Figures from the other parts (P-256, public-key roll) when their benches exist."""
    found: dict = {}
    try:
        from upurse.bench_p256 import measure
    except ImportError:
        return found
    found["p256"] = measure()
    from upurse.bench_pki import measure as measure_key_rolls

    found["key_rolls"] = measure_key_rolls()  # embodiments 2-5: card CPU, smallest heaps
    from upurse.bench_pcsc import measure as measure_pcsc

    found["pcsc"] = measure_pcsc()  # APDU round trip through pcscd and vpcd, a transfer
    return found


if __name__ == "__main__":
    main()
