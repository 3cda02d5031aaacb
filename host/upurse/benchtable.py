"""The bench's tables, and every figure that has a goal (issue 10) set against it.

`goals(figures)` lists {figure, value, goal, met}; `show(figures)` prints the tables with rich.
A figure whose input is not measured yet says so: `met` is then None, never a guess.
"""
from __future__ import annotations

from rich.console import Console
from rich.table import Table

from upurse.bench_tap import KEY_ROLLS
from upurse.tapmodel import CAUSES

RIG = "esp32/hsu/106"  # the goals' rig: ESP32 + PN532 over HSU 115200, 106 kbit/s
RIG_NAME = "ESP32 + PN532 over HSU 115200, 106 kbit/s"
FLOWS = (("literal_roll_transfer", "roll + transfer, seed literally"),
         ("ours_roll_transfer", "roll + transfer, our settlement"),
         ("service_roll_transfer", "roll + transfer, terminal service"),
         ("literal_transfer", "transfer, seed literally"),
         ("ours_transfer", "transfer, our settlement"),
         ("service_transfer", "transfer, terminal service"))
NOT_MEASURED = "not measured"


def _goal(figure: str, value, goal, at_most: bool = True) -> dict:
    met = None if value is None or isinstance(value, str) else (
        value <= goal if at_most else value >= goal)
    return {"figure": figure, "value": NOT_MEASURED if value is None else value, "goal": goal,
            "met": met}


def goals(f: dict) -> list[dict]:
    tap = f["tap"]["flows"]
    out = []
    for flow, goal in f["tap"]["goals_ms"].items():
        m = tap[flow]["modelled_ms"][RIG]
        g = _goal(f"modelled tap ms, {flow}, {RIG}", m["total"], goal)
        if m["not_measured"]:  # causes left out: the figure is a floor
            g["value"] = f"{m['total']} + {', '.join(m['not_measured'])} ({NOT_MEASURED})"
            g["met"] = False if m["total"] > goal else None
        out.append(g)
    out.append(_goal("settlement exchanges, roll + transfer", f["exchanges_roll_transfer"], 7))
    out.append(_goal("settlement exchanges, transfer", f["exchanges_transfer"], 5))
    pk = f.get("key_rolls", {}).get("pki", {}).get("exchanges_roll_transfer")
    out.append(_goal("exchanges, public-key roll + transfer", pk, 11))
    for board, erases in tap["ours_transfer"]["erases"].items():
        out.append(_goal(f"flash erases per card per transfer ({board}, mean)",
                         round(erases["card"] / 2, 2), 1))
    for board, erases in tap["ours_roll_transfer"]["erases"].items():
        out.append(_goal(f"flash erases per card per roll + transfer ({board}, mean)",
                         round(erases["card"] / 2, 2), 2))
    qemu = _bench(f, "bench_qemu")
    flows = qemu.get("instructions_per_flow", {})
    out.append(_goal("card instructions, fast roll + transfer, both cards",
                     flows.get("fast_roll_transfer"), 2.5e6))
    pk = qemu.get("per_command", {}).get("public_key_roll_transfer")
    roll = sum(r["instructions"] for name, r in pk.items()
               if not name.startswith("VALUE_")) if pk else None
    out.append(_goal("card instructions, public-key roll, both cards", roll, 150e6))
    heap = qemu.get("min_heap_kb", {}).get("fast_path_one_process", {}).get("frozen")
    out.append(_goal("smallest heap KB, fast path, frozen, 32-bit (all roles in one process)",
                     heap, 16))
    per_op = {}  # any microcontroller bench that counts P-256 (branch natmod)
    for name in f.get("microcontroller", {}):
        per_op = _bench(f, name).get("p256_instructions") or per_op
    for op in ("sign", "verify", "ecdh"):
        out.append(_goal(f"P-256 {op} instructions (microcontroller)", per_op.get(op), 20e6))
    return out


def _bench(f: dict, name: str) -> dict:
    """A microcontroller bench's figures, {} while it is not there."""
    found = f.get("microcontroller", {}).get(name)
    return found if isinstance(found, dict) else {}


def _ms(v) -> str:
    if not isinstance(v, int | float):
        return str(v)
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 1 else f"{v:.3f}"


def _by_cause(title: str, tap: dict, columns: list[tuple[str, str]], goal_of: dict) -> Table:
    """One column per flow: its exchanges, bytes, frames, erases, ms by cause and total."""
    t = Table(title=title)
    t.add_column("")
    for _, label in columns:
        t.add_column(label, justify="right")
    rows = [tap[k] for k, _ in columns]
    ms = [r["modelled_ms"][RIG] for r in rows]
    t.add_row("exchanges", *(str(r["exchanges"]) for r in rows))
    t.add_row("bytes on air (APDUs)", *(str(r["bytes_on_air"]) for r in rows))
    t.add_row("frames on air", *(str(m["frames_on_air"]) for m in ms))
    t.add_row("card erases (mean)", *(_ms(r["erases"]["esp32"]["card"]) for r in rows))
    for c in CAUSES:
        t.add_row(c, *(NOT_MEASURED if c in m["not_measured"] else _ms(m["by_cause"][c])
                       for m in ms))
    t.add_row("[bold]total", *(f"[bold]{_ms(m['total'])}" for m in ms))
    t.add_row("goal", *(str(goal_of.get(k, "")) for k, _ in columns))
    return t


def show(f: dict, console: Console | None = None) -> None:
    console = console or Console()
    tap = f["tap"]["flows"]
    goal_of = f["tap"]["goals_ms"]
    floors = "\ncauses not measured are left out: those totals are floors"
    for flow, label in (("roll_transfer", "roll + transfer"), ("transfer", "transfer")):
        columns = [(k, name.split(", ")[1]) for k, name in FLOWS if k.endswith(f"_{flow}")
                   and k.count("_") == flow.count("_") + 1]
        console.print(_by_cause(f"Modelled {label} tap (ms): {RIG_NAME}{floors}", tap, columns,
                                goal_of))
    columns = [("service_roll_transfer", "update key")] + [
        (f"service_roll_transfer_{s}", s) for s in KEY_ROLLS]
    console.print(_by_cause(f"Modelled key roll + transfer taps, terminal service (ms): "
                            f"{RIG_NAME}{floors}", tap, columns, goal_of))

    t = Table(title="Modelled tap time (ms) of the terminal service's taps by rig")
    t.add_column("flow")
    t.add_column("board / host link")
    for rate in (106, 212, 424):
        t.add_column(f"{rate} kbit/s", justify="right")
    for key in ("service_roll_transfer", "service_transfer"):
        rigs = tap[key]["modelled_ms"]
        for bl in sorted({r.rsplit("/", 1)[0] for r in rigs}):
            t.add_row(key.removeprefix("service_"), bl,
                      *(_ms(rigs[f"{bl}/{rate}"]["total"]) for rate in (106, 212, 424)))
    console.print(t)

    t = Table(title="Card CPU per flow, both cards (ms on this host; instructions on the "
              "microcontroller build)")
    t.add_column("flow")
    t.add_column("CPython", justify="right")
    t.add_column("unix MicroPython", justify="right")
    t.add_column("microcontroller build", justify="right")
    qemu = _bench(f, "bench_qemu").get("instructions_per_flow", {})
    for flow, key in (("roll + transfer", "roll_transfer"), ("transfer", "transfer")):
        cpu = f[f"card_cpu_ms_{key}"]
        instr = qemu.get(f"fast_{key}")
        t.add_row(flow, _ms(cpu["cpython"]), _ms(cpu["micropython"]),
                  f"{instr:,} instr" if instr else NOT_MEASURED)
    console.print(t)

    t = Table(title="Crypto against OpenSSL (ms per operation; ratio = ours / OpenSSL)")
    for col in ("operation", "OpenSSL", "CPython", "ratio", "unix MicroPython", "ratio",
                "+ native P-256", "ratio"):
        t.add_column(col, justify="right")
    for op, row in f["crypto_vs_openssl"].items():
        t.add_row(op, f"{row['openssl']:.3f}",
                  *(_ms(row.get(k, NOT_MEASURED)) for k in ("cpython", "ratio_cpython",
                                                           "micropython", "ratio_micropython",
                                                           "micropython_native",
                                                           "ratio_micropython_native")))
    console.print(t)

    t = Table(title="Goals (issue 10)")
    for col in ("figure", "value", "goal", "met"):
        t.add_column(col)
    for g in f["goals"]:
        met = {True: "[green]yes", False: "[red]no", None: "?"}[g["met"]]
        t.add_row(g["figure"], str(g["value"]), f"<= {g['goal']:g}", met)
    console.print(t)
