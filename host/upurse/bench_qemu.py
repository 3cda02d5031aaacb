"""Microcontroller figures from the QEMU board (boards/qemu: MicroPython on a Cortex-M4).

    python -m upurse.bench_qemu

`measure()` returns them as a dict for `make bench` (host/upurse/bench.py; `per_command` is
also the card CPU of the tap-time model, upurse.bench_tap):
- the smallest heap (KB, 32-bit) in which the fast path (key roll by update key, then
  transfers; all three roles in one process) and the public-key roll of both keys (each card
  its own board) still pass, with the firmware frozen and as .mpy files on the flash;
- instructions per card command and per flow, both cards summed (QEMU's -icount: exact and
  repeatable), the flash programs and erases each command makes, and instructions per P-256
  sign, verify and ECDH;
- card time at CLOCK_HZ taking one instruction per cycle, a floor: a real core stalls on flash
  wait states, loads and multi-cycle multiplies, so a real card is slower.
Figures only: no test asserts on them.
"""
from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from common import proto as P
from terminal.cardlink import SettlementError
from terminal.settlement import settle
from upurse.build import ROOT, compile_packages
from upurse.cardproc import CardProcess, LinkError
from upurse.interpreters import command
from upurse.qemu import run_script

MPY_TESTS = ROOT / "tests" / "mpy"
SCRIPTS = Path(__file__).resolve().parent / "benchscripts"
CLOCK_HZ = 100_000_000  # a stated clock for card time: 100 MHz, one instruction per cycle


def _personalize(folder: Path, script: str, *args: str) -> Path:
    """Cards made on the unix port (the issuer's step; the state files are the same)."""
    argv, env = command("micropython", MPY_TESTS / script, str(folder), *args,
                        path=(MPY_TESTS,))
    subprocess.run(argv, env=env, check=True, capture_output=True, timeout=300)
    return folder


def _fresh(tmp: Path, kind: str, scheme: int = P.SCHEME_PKI) -> Path:
    folder = Path(tempfile.mkdtemp(dir=tmp))
    if kind == "fast":
        return _personalize(folder, "make_cards.py")
    return _personalize(folder, "pk_cards.py", str(scheme))


def commands(tmp: Path, kind: str, path: tuple[Path, ...] = ()) -> dict:
    """Instructions and flash work per command of one flow and the transfer after it
    (`path`: more folders on the board's flash, e.g. the native P-256 module's)."""
    proc = run_script(SCRIPTS / "qemu_commands.py", str(_fresh(tmp, kind)), kind, icount=True,
                      path=(MPY_TESTS, *path))
    if proc.returncode:
        raise RuntimeError(f"QEMU bench {kind}: {proc.stdout[-500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def p256() -> dict:
    """Instructions per P-256 operation (the best of three)."""
    proc = run_script(SCRIPTS / "qemu_p256.py", icount=True)
    if proc.returncode:
        raise RuntimeError(f"QEMU bench p256: {proc.stdout[-500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _smallest(passes, lo: int = 8, hi: int = 160) -> int | None:
    """The smallest heap (KB) at which `passes(kb)` holds, by bisection; None if not at hi."""
    if not passes(hi):
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if passes(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def heap_fast_path(tmp: Path, lib: tuple[Path, ...]) -> int | None:
    def passes(kb: int) -> bool:
        return run_script(MPY_TESTS / "flow_inprocess.py", str(_fresh(tmp, "fast")),
                          heap=f"{kb}k", lib=lib).returncode == 0
    return _smallest(passes)


def heap_public_key_roll(tmp: Path, lib: tuple[Path, ...], card: str) -> int | None:
    """The public-key roll of both keys (scheme 5, as the unix bench), `card` ("target" or
    "source") in the heap tried, the other in a roomy one."""
    def passes(kb: int) -> bool:
        cards = _fresh(tmp, "public-key", P.SCHEME_HYBRID_UPDATE)
        heaps = {"target": "512k", "source": "512k", card: f"{kb}k"}
        try:
            with (CardProcess(cards / "card1", interpreter="qemu", heap=heaps["target"],
                              path=lib) as target,
                  CardProcess(cards / "card2", interpreter="qemu", heap=heaps["source"],
                              path=lib) as source):
                r = settle(source, target, P.PURSE_MONEY, 1, 20261125)
                return r["key_roll"] == "public-key"
        except (LinkError, SettlementError, ValueError):  # out of heap: the roll fails
            return False
    return _smallest(passes, hi=96)


def _at_clock(instructions: int) -> float:
    return round(instructions / CLOCK_HZ * 1000, 1)


def measure() -> dict:
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        mpy = tmp / "mpy"
        compile_packages(mpy, ("common", "card", "terminal"))
        fast = commands(tmp, "fast")
        pk = commands(tmp, "public-key")
        heaps = {
            "fast_path_one_process": {"frozen": heap_fast_path(tmp, ()),
                                      "mpy": heap_fast_path(tmp, (mpy,))},
            "public_key_roll_target_card": {"frozen": heap_public_key_roll(tmp, (), "target"),
                                            "mpy": heap_public_key_roll(tmp, (mpy,), "target")},
            "public_key_roll_source_card": {"frozen": heap_public_key_roll(tmp, (), "source"),
                                            "mpy": heap_public_key_roll(tmp, (mpy,), "source")},
        }
        ops = p256()
    flows = {"fast_roll_transfer": fast["roll_transfer"], "fast_transfer": fast["transfer"],
             "public_key_roll_transfer": pk["roll_transfer"]}
    card = [heaps[k]["frozen"] for k in ("public_key_roll_target_card",
                                         "public_key_roll_source_card")]
    return {
        # the flat figures the bench table and its goals read (upurse.benchtable)
        "fast_path_instructions_roll_transfer": fast["roll_transfer"]["instructions"],
        "fast_path_instructions_transfer": fast["transfer"]["instructions"],
        "public_key_roll_instructions": pk["roll_transfer"]["instructions"],
        "min_heap_kb_card_32bit": max(card) if None not in card else None,
        **ops,
        "board": "qemu mps2-an386 (Cortex-M4), MicroPython 32-bit, firmware frozen",
        "min_heap_kb": heaps,
        "instructions_per_flow": {k: f["instructions"] for k, f in flows.items()},
        "per_command": {k: f["commands"] for k, f in flows.items()},
        "card_ms_at_clock": {k: _at_clock(f["instructions"]) for k, f in flows.items()},
        "clock_mhz": CLOCK_HZ // 1_000_000,
        "clock_note": "one instruction per cycle: a floor, real cores stall (flash wait "
                      "states, multi-cycle multiplies)",
    }


def main() -> None:
    print(json.dumps(measure(), indent=2))


if __name__ == "__main__":
    main()
