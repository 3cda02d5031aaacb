"""Modelled tap times (upurse.tapmodel) of the flows as they run today, and of the seed's
literal flow, on each board, host link and air rate.

The exchanges come from benchscripts/tap.py (MicroPython, real littlefs on counted flash):
sizes, flash programs and erases as sent and done. Card CPU comes from the microcontroller
build's instruction counts when upurse.bench_qemu has run (`card_instructions`); until then
card CPU is "not measured" and
left out of the sum, never guessed. A command the microcontroller bench did not run (GET CARD
INFO of the literal flow, the pre-loaded roll's commands) is "not measured" too.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from upurse.build import ROOT
from upurse.interpreters import command
from upurse.tapmodel import BOARDS, LINKS, RATES, Exchange, Rig, tap_time

SCRIPT = Path(__file__).resolve().parent / "benchscripts" / "tap.py"
TEST_HELPERS = ROOT / "tests" / "mpy"
KEY_ROLLS = ("pki", "preloaded", "hybrid-update")  # benchscripts/tap.py SCHEMES
GOALS_MS = {"transfer": 150, "roll_transfer": 200}  # issue 10: ESP32 + PN532 over HSU


def record(geometry: str) -> dict:
    """One run of benchscripts/tap.py with the flash geometry of a board."""
    argv, env = command("micropython", SCRIPT, geometry, heap="8m", path=(TEST_HELPERS,))
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    if proc.returncode:
        raise RuntimeError(f"tap bench failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def card_instructions(qemu: dict | str | None) -> dict[str, int] | None:
    """Instructions per call of each card command on the microcontroller build, from
    upurse.bench_qemu.measure()'s `per_command` ({flow: {command: {count, instructions}}});
    None while that bench is missing."""
    if not isinstance(qemu, dict) or "per_command" not in qemu:
        return None
    total: dict[str, list[int]] = {}
    for commands in qemu["per_command"].values():
        for name, row in commands.items():
            t = total.setdefault(name, [0, 0])
            t[0] += row["count"]
            t[1] += row["instructions"]
    return {name: round(i / n) for name, (n, i) in total.items() if n}


def _steady(rec: dict, ins: str, side: str) -> tuple[int, int, int]:
    """Mean flash use per call of `ins` over the steady transfers (rounded to whole events
    only in the model's arithmetic: fractions of an erase are an expected value)."""
    s = rec["steady"].get(ins)
    if not s:
        return None
    return tuple(v / s["calls"] for v in s[side])


def exchanges(rec: dict, log: list[dict], counts: dict[str, int] | None) -> list[Exchange]:
    out = []
    for e in log:
        card = _steady(rec, e["ins"], "card_flash") or tuple(e["card_flash"])
        term = _steady(rec, e["ins"], "terminal_flash") or tuple(e["terminal_flash"])
        out.append(Exchange(f"{e['ins']} ({e['card']})", e["cmd"], e["rsp"],
                            counts.get(e["ins"]) if counts else None, card, None, term))
    return out


def flows(rec: dict, counts: dict[str, int] | None) -> dict[str, list[Exchange]]:
    """Each flow's exchanges: the terminal service's tap (journal recovery check + the
    settlement), the settlement alone, and the seed's literal flow built from the settlement:
    S1001 SELECT answering only a status word, S1002 GET CARD INFO to each card, S1004 KEY
    UPDATE PERMISSION on a roll, no VALUE TX CONFIRM."""
    extra = {(e["ins"], e["card"]): e for e in rec["literal_extra"]}
    out = {}
    for name in ("roll_transfer", "transfer"):
        log = rec[name]
        settlement = log[len(log) - rec[f"settlement_exchanges_{name}"]:]
        out[f"service_{name}"] = exchanges(rec, log, counts)
        out[f"ours_{name}"] = exchanges(rec, settlement, counts)
        selects = [dict(e, rsp=2) for e in settlement[:2]]
        literal = selects + [extra[("GET_CARD_INFO", e["card"])] for e in settlement[:2]]
        rest = [e for e in settlement[2:] if e["ins"] != "VALUE_TX_CONFIRM"]
        if rest[0]["ins"] == "KEY_OBTAIN":
            older = next(e["card"] for e in rest if e["ins"] == "KEY_UPDATE")
            literal.append(dict(extra[("KEY_UPDATE_PERMISSION", "1")], card=older))
        out[f"literal_{name}"] = exchanges(rec, literal + rest, counts)
    for scheme in KEY_ROLLS:  # embodiments 2-5: ours only (their literal flows: protocol.md)
        log = rec[f"roll_transfer_{scheme}"]
        n = rec[f"settlement_exchanges_roll_transfer_{scheme}"]
        out[f"service_roll_transfer_{scheme}"] = exchanges(rec, log, counts)
        out[f"ours_roll_transfer_{scheme}"] = exchanges(rec, log[len(log) - n:], counts)
    return out


def _round(counts) -> list[float]:
    return [round(v, 2) for v in counts]


def measure(qemu: dict | str | None = None) -> dict:
    """Every flow on every rig; `qemu` is upurse.bench_qemu.measure()'s result, if it ran."""
    counts = card_instructions(qemu)
    out: dict = {"card_instructions": "measured" if counts else "not measured",
                 "goals_ms": {f"service_{k}": v for k, v in GOALS_MS.items()}, "flows": {}}
    records = {b: record(board.geometry) for b, board in BOARDS.items()}
    for b, board in BOARDS.items():
        for flow, xs in flows(records[b], counts).items():
            f = out["flows"].setdefault(flow, {
                "exchanges": len(xs), "bytes_on_air": sum(x.cmd + x.rsp for x in xs),
                "apdus": [[x.name, x.cmd, x.rsp] for x in xs], "erases": {}, "flash": {},
                "modelled_ms": {}})
            f["flash"][b] = [{"card": _round(x.card_flash), "terminal": _round(x.terminal_flash)}
                             for x in xs]
            f["erases"][b] = {"card": round(sum(x.card_flash[2] for x in xs), 2),
                              "terminal": round(sum(x.terminal_flash[2] for x in xs), 2)}
            for ln, link in LINKS.items():
                for rate in RATES:
                    t = tap_time(Rig(board, link, rate), xs)
                    f["modelled_ms"][f"{b}/{ln}/{rate}"] = {
                        "total": round(t.total * 1000, 2), "by_cause": t.ms(),
                        "not_measured": sorted(t.not_measured), "frames_on_air": t.frames,
                        "per_exchange": [round(v * 1000, 2) for _, v in t.per_exchange]}
    return out
