"""The rig daemon's state file and control socket, seen from the CLI (`upurse rig up/down`).

`upurse rig up` starts `python -m upurse.rig.daemon --dir ISSUER` in the background; the daemon
writes ISSUER/rig.json (its pid, the ports, the control socket) once the rig runs, and removes it
when it stops. A CLI command finds a running rig through that file and asks it, one JSON line
per request over the unix socket, to arrange cards on the readers.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

STATE = "rig.json"


class RigError(RuntimeError):
    """The rig daemon is not there or refused a request."""


def state_file(root: Path, name: str = STATE) -> Path:
    return Path(root) / name


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running(root: Path, name: str = STATE) -> dict | None:
    """The state of the rig running for this issuer folder, or None (a stale file is removed).
    `name`: the state file of another kind of rig (upurse.pcsc.daemon)."""
    path = state_file(root, name)
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if _alive(state.get("pid", -1)) and Path(state.get("socket", "")).exists():
        return state
    path.unlink(missing_ok=True)
    return None


def call(state: dict, op: str, timeout: float = 30.0, **fields) -> dict:
    """One request to the daemon; RigError if it fails."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        try:
            s.connect(state["socket"])
            s.sendall(json.dumps({"op": op, **fields}).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError as e:
            raise RigError(f"the rig daemon did not answer ({e})") from e
    try:
        reply = json.loads(data)
    except ValueError:
        raise RigError("the rig daemon sent no reply") from None
    if not reply.get("ok"):
        raise RigError(reply.get("error", "rig request failed"))
    return reply


def up(root: Path, timeout: float = 20.0, pcap: Path | None = None) -> dict:
    """Start the daemon for this issuer folder (or find it running); its state. `pcap`: the
    daemon records the air there (upurse.rig.air) until it stops."""
    root = Path(root)
    state = running(root)
    if state is not None:
        return dict(state, already=True)
    (root / "rig").mkdir(parents=True, exist_ok=True)
    log = open(root / "rig" / "daemon.log", "ab")  # noqa: SIM115 - handed to the child
    argv = [sys.executable, "-m", "upurse.rig.daemon", "--dir", str(root)]
    proc = subprocess.Popen(argv + (["--pcap", str(Path(pcap).resolve())] if pcap else []),
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            start_new_session=True, close_fds=True)
    log.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = running(root)
        if state is not None and state.get("pid") == proc.pid:
            return state
        if proc.poll() is not None:
            tail = (root / "rig" / "daemon.log").read_text(errors="replace")[-2000:]
            raise RigError(f"the rig daemon exited {proc.returncode}:\n{tail}")
        time.sleep(0.05)
    proc.kill()
    raise RigError(f"the rig did not come up within {timeout} s")


def down(root: Path, timeout: float = 10.0) -> bool:
    """Stop the rig of this issuer folder; False if none was running."""
    state = running(root)
    if state is None:
        return False
    try:
        call(state, "down", timeout=timeout)
    except RigError:
        os.kill(state["pid"], signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(state["pid"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(state["pid"]):
        os.kill(state["pid"], signal.SIGKILL)
    state_file(root).unlink(missing_ok=True)
    return True
