"""The end-to-end suite on a labgrid place, as a HIL farm runs it: a coordinator and an
exporter (labgrid's own venv, build/labgrid-venv) on 127.0.0.1; the exporter publishes the
emulated rig's terminal console, exported by ser2net, as a NetworkSerialPort; the test
acquires the place and runs tests/test_hil.py with `--lg-env farm/env.yaml`."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from upurse.farm import Ser2net, Service, free_port, listening
from upurse.rig.sim import SimRig

ROOT = Path(__file__).resolve().parent.parent
LG = ROOT / "build" / "labgrid-venv" / "bin"
FARM = ROOT / "farm"


def test_hil_suite_passes_on_a_labgrid_place(tmp_path: Path):
    cport = free_port()
    (tmp_path / "coordinator").mkdir()
    env = dict(os.environ, LG_COORDINATOR=f"127.0.0.1:{cport}")

    def client(*args: str) -> str:
        proc = subprocess.run([str(LG / "labgrid-client"), "-p", "upurse", *args], env=env,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    log = tmp_path / "exporter.log"
    with SimRig(tmp_path / "rig") as sim, \
            Ser2net({"terminal": sim.ports()["terminal"]}, tmp_path) as exported, \
            Service([str(LG / "labgrid-coordinator"), "-l", f"127.0.0.1:{cport}"],
                    tmp_path / "coordinator.log", cwd=tmp_path / "coordinator",
                    ready=lambda: listening(cport)), \
            Service([str(LG / "labgrid-exporter"), "-n", "upurse-ci", "--hostname",
                     "127.0.0.1", str(FARM / "exporter-emulated.yaml")], log,
                    env=dict(env, UPURSE_TERMINAL_TCP=str(exported.ports["terminal"])),
                    ready=lambda: b"connected to coordinator" in log.read_bytes()):
        client("create")
        client("add-match", "upurse-ci/upurse-bench/*")
        client("acquire")
        shown = client("show")
        proc = subprocess.run(
            [str(LG / "python"), "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
             "tests/test_hil.py", "--lg-env", str(FARM / "env.yaml")], cwd=ROOT, env=env,
            capture_output=True, text=True, timeout=240)
        client("release")
    assert "upurse-ci/upurse-bench/NetworkSerialPort/terminal" in shown
    assert f"'port': {exported.ports['terminal']}" in shown
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    summary = proc.stdout.strip().splitlines()[-1]
    assert "7 passed" in summary and "5 skipped" in summary, summary
