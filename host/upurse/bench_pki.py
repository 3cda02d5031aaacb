"""Key-roll figures on both interpreters: card CPU per public-key command and per whole roll,
and the smallest heap in which the public-key roll still passes.

    python -m upurse.bench_pki [--runs 5]

`measure()` returns them as a dict (host/upurse/bench.py puts it into build/bench.json).
Card CPU is the time the applets spend in `process()`, terminal excluded, both cards summed;
"cold" is the first roll in the process (the key-roll code loads from file for the first
time), "warm" a second roll (on MicroPython each public-key command loads and forgets its code
anyway: card/transient.py). MicroPython runs mpy-cross bytecode, as a board would. Figures
only: no test asserts on them.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from common import proto as P
from terminal.settlement import settle
from upurse.build import ROOT, compile_packages
from upurse.cardproc import CardProcess
from upurse.interpreters import command

MPY_TESTS = ROOT / "tests" / "mpy"
SCHEMES = {"pki": P.SCHEME_PKI, "hybrid": P.SCHEME_HYBRID, "preloaded": P.SCHEME_PRELOADED,
           "hybrid-update": P.SCHEME_HYBRID_UPDATE}


def _run(interpreter: str, script: str, *args: str, heap: str | None = None,
         path: tuple[Path, ...] = ()) -> subprocess.CompletedProcess:
    argv, env = command(interpreter, MPY_TESTS / script, *args, heap=heap,
                        path=(*path, MPY_TESTS))
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)


def _cards(folder: Path, interpreter: str, scheme: int) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    proc = _run(interpreter, "pk_cards.py", str(folder), str(scheme))
    if proc.returncode:
        raise RuntimeError(proc.stderr)
    return folder


def flow(interpreter: str, tmp: Path, compiled: Path, scheme: int, runs: int) -> dict:
    """The run with the median cold roll over `runs` fresh card sets."""
    results = []
    for _ in range(runs):
        folder = _cards(tmp / "cards", interpreter, scheme)
        proc = _run(interpreter, "pk_flow.py", str(folder),
                    path=(compiled,) if interpreter == "micropython" else ())
        if proc.returncode:
            raise RuntimeError(proc.stderr)
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    results.sort(key=lambda r: r["card_cpu_cold"]["total_ms"])
    return results[len(results) // 2]


def _roll_passes(tmp: Path, compiled: Path, target_heap: str, source_heap: str) -> bool:
    folder = _cards(tmp / "heap", "micropython", P.SCHEME_HYBRID_UPDATE)
    with (CardProcess(folder / "card1", heap=target_heap, path=(compiled,)) as target,
          CardProcess(folder / "card2", heap=source_heap, path=(compiled,)) as source):
        try:
            return settle(source, target, P.PURSE_MONEY, 1, 20261125)["key_roll"] == "public-key"
        except Exception:  # noqa: BLE001 - any failure means the heap was too small
            return False


def _smallest(passes, lo: int = 32, hi: int = 256) -> int:
    while lo < hi:
        mid = (lo + hi) // 2
        if passes(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def min_heaps(tmp: Path, compiled: Path) -> dict:
    """Smallest `-X heapsize` (KB) for a public-key roll of both keys (scheme 5): each card as
    its own process (the other given plenty), and all three roles in one process."""
    def one_process(kb: int) -> bool:
        folder = _cards(tmp / "one", "micropython", P.SCHEME_HYBRID_UPDATE)
        return _run("micropython", "pk_flow.py", str(folder), heap=f"{kb}k",
                    path=(compiled,)).returncode == 0

    return {
        "target_card_process": _smallest(lambda kb: _roll_passes(tmp, compiled, f"{kb}k",
                                                                 "1024k")),
        "source_card_process": _smallest(lambda kb: _roll_passes(tmp, compiled, "1024k",
                                                                 f"{kb}k")),
        "all_roles_one_process": _smallest(one_process),
    }


def measure(runs: int = 5) -> dict:
    out: dict = {}
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        compiled = tmp / "mpy"
        compile_packages(compiled, ("common", "card", "terminal"))
        for name, scheme in SCHEMES.items():
            per = {i: flow(i, tmp, compiled, scheme, runs) for i in ("micropython", "cpython")}
            out[name] = {
                "key_roll": per["micropython"]["key_roll"],
                "exchanges_roll_transfer": per["micropython"]["exchanges"],
                "bytes_on_air_roll_transfer": per["micropython"]["bytes_on_air"],
                "card_cpu_ms_roll": {i: {"cold": r["card_cpu_cold"]["total_ms"],
                                         "warm": r["card_cpu_warm"]["total_ms"]}
                                     for i, r in per.items()},
                "card_cpu_us_per_command": {i: {"cold": _commands(r["card_cpu_cold"]),
                                                "warm": _commands(r["card_cpu_warm"])}
                                            for i, r in per.items()},
            }
        out["min_heap_kb_public_key_roll"] = min_heaps(tmp, compiled)
    return out


def _commands(cpu: dict) -> dict:
    """Per command, target and source apart (SELECT and GET KEY INFO run on both)."""
    return {f"{role}:{name}": us for role in ("target", "source")
            for name, us in cpu[f"{role}_us"].items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    print(json.dumps(measure(parser.parse_args().runs), indent=2))


if __name__ == "__main__":
    main()
