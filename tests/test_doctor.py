"""`upurse doctor` and `upurse rig reboot`, through the installed `upurse` command: a board
mpremote left at the REPL stops answering, doctor says so, a soft reset over its console brings
main.py back."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

UPURSE = str(Path(sys.executable).with_name("upurse"))
CHECKS = ["python", "micropython", "mpy-cross", "arm-none-eabi-gcc", "qemu-system-arm",
          "serial ports", "pcscd", "rig", "terminal"]


def upurse(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([UPURSE, *args, "--dir", str(tmp_path / "iss")], capture_output=True,
                          text=True, timeout=60)


def doctor(tmp_path: Path, *args: str) -> tuple[int, dict]:
    proc = upurse(tmp_path, "doctor", "--json", *args)
    return proc.returncode, {c["check"]: c for c in json.loads(proc.stdout)}


def test_doctor_one_line_per_check_and_usable(tmp_path: Path):
    proc = upurse(tmp_path, "doctor")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert [line[:18].strip() for line in lines] == CHECKS
    code, checks = doctor(tmp_path)
    assert code == 0
    assert checks["micropython"]["ok"] and "MicroPython" in checks["micropython"]["detail"]
    assert checks["python"]["detail"].startswith("CPython 3.")
    for tool in ("mpy-cross", "arm-none-eabi-gcc", "qemu-system-arm", "pcscd"):
        assert checks[tool]["ok"], checks[tool]  # the Makefile installs them all
    assert "upurse rig up" in checks["rig"]["detail"]  # none running: what to do


def test_reboot_brings_back_a_terminal_mpremote_left_at_the_repl(tmp_path: Path, rig):
    port = rig.terminal.port
    left = subprocess.run([sys.executable, "-m", "mpremote", "connect", port, "exec",
                           "print(6 * 7)"], capture_output=True, text=True, timeout=60)
    assert left.stdout.strip() == "42", left.stderr
    code, checks = doctor(tmp_path, "--terminal-port", port)
    assert code == 1 and not checks["terminal"]["ok"]  # at the REPL: no service
    assert "upurse rig reboot" in checks["terminal"]["detail"]
    proc = upurse(tmp_path, "rig", "reboot", port)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"board {port} ({port}) soft-reset: it runs main.py again"
    code, checks = doctor(tmp_path, "--terminal-port", port)
    assert code == 0 and checks["terminal"]["detail"] == (f"answers on {port}: readers A up, "
                                                          "B up")
    assert rig.terminal.wait_ready()["role"] == "terminal"
    proc = upurse(tmp_path, "rig", "reboot", port)  # main.py running: Ctrl-C, then the reset
    assert proc.returncode == 0, proc.stderr
    assert rig.terminal.wait_ready()["role"] == "terminal"


def test_reboot_of_an_unknown_board_is_one_line(tmp_path: Path):
    for board, says in (("terminal", "no board 'terminal': name a port or a rig board (none: "
                                     "no rig running (`upurse rig up`))"),
                        ("/dev/upurse-none", "cannot open /dev/upurse-none"),
                        ("nosuch://x", "cannot open nosuch://x")):
        proc = upurse(tmp_path, "rig", "reboot", board)
        assert proc.returncode == 1 and proc.stdout == ""
        assert proc.stderr.startswith(f"upurse: error: {says}") and proc.stderr.count("\n") == 1
