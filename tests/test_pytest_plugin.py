"""The pytest plugin itself (pytester): physical-only tests skip with their reason; and the
end-to-end suite runs unchanged in `--rig serial` mode, here against an emulated rig's
terminal pty standing in for a real terminal board's USB port."""
from __future__ import annotations

from pathlib import Path

from upurse.rig.sim import SimRig

pytest_plugins = ("pytester",)
HIL = Path(__file__).resolve().parent / "test_hil.py"

SAMPLE = """
import pytest

@pytest.mark.hil
def test_physical():
    pass

@pytest.mark.sim
def test_simulated():
    pass

def test_plain():
    pass
"""


def test_markers_skip_with_their_reasons(pytester):
    pytester.makepyfile(SAMPLE)
    result = pytester.runpytest("-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(["*needs physical boards: --rig serial --terminal-port*"])
    result = pytester.runpytest("-rs", "--rig", "serial", "--terminal-port", "/dev/null")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["*needs the simulated PN532 field*"])


def test_suite_runs_over_serial_against_a_terminal_port(pytester, tmp_path: Path):
    with SimRig(tmp_path / "rig") as sim:
        port = sim.ports()["terminal"]
        result = pytester.runpytest_subprocess(str(HIL), "--rig", "serial", "--terminal-port",
                                               port, "-rs", "-p", "no:cacheprovider",
                                               "-p", "no:xdist", timeout=120)
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes.get("error", 0) == 0, result.stdout.str()
    sims = sum(1 for line in HIL.read_text().splitlines() if line == "@pytest.mark.sim")
    assert outcomes["skipped"] == sims + 1  # the simulator's tests, and the physical one
    assert outcomes["passed"] >= 7
