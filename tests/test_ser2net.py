"""The end-to-end suite over the network, as on a HIL farm: ser2net exports the emulated rig's
terminal console as RFC 2217 on 127.0.0.1, and `make hil`'s pytest run reaches the terminal
through `rfc2217://127.0.0.1:PORT` instead of a device: the same transfer tests, unchanged."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from upurse.farm import Ser2net
from upurse.rig.sim import SimRig
from upurse.terminal import Terminal

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.filterwarnings("ignore::DeprecationWarning:serial.rfc2217")  # its thread setup
def test_hil_suite_passes_through_ser2net(tmp_path: Path):
    with SimRig(tmp_path / "rig") as sim, \
            Ser2net({"terminal": sim.ports()["terminal"]}, tmp_path) as exported:
        url = exported.urls["terminal"]
        with Terminal(url) as terminal:  # a request and its reply cross TCP and RFC 2217
            assert terminal.wait_ready(timeout=30)["role"] == "terminal"  # boots under load
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
             "tests/test_hil.py", "--rig", "serial", "--terminal-port", url, "--card-ports",
             "", "-k", "transfer or apdus"], cwd=ROOT, capture_output=True, text=True,
            timeout=240)
        pid = exported.proc.pid
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    summary = proc.stdout.strip().splitlines()[-1]
    assert "3 passed, 1 skipped" in summary, summary  # a swap needs the simulator
    assert "needs the simulated PN532" in proc.stdout
    assert subprocess.run(["ps", "-p", str(pid)], capture_output=True).returncode == 1  # ended
