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


def publish(root: Path, state: dict, name: str = STATE) -> None:
    """A daemon says it is up: its state file, written whole or not at all."""
    tmp = state_file(root, name).with_suffix(".new")
    tmp.write_text(json.dumps(state, indent=2))
    os.replace(tmp, state_file(root, name))


def withdraw(root: Path, name: str = STATE) -> None:
    """A daemon stopping removes its state file (not a newer daemon's)."""
    try:
        if json.loads(state_file(root, name).read_text()).get("pid") == os.getpid():
            state_file(root, name).unlink()
    except (OSError, ValueError):
        pass


def spawn(root: Path, argv: list[str], log: Path, name: str = STATE,
          timeout: float = 20.0) -> dict:
    """Start a daemon in the background and wait for the state file it publishes."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                start_new_session=True, close_fds=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = running(root, name)
        if state is not None and state.get("pid") == proc.pid:
            return state
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise RigError(f"the rig daemon exited {proc.returncode}:\n{tail}")
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise RigError(f"the rig did not come up within {timeout:g} s")


def up(root: Path, timeout: float = 20.0, pcap: Path | None = None) -> dict:
    """Start the daemon for this issuer folder (or find it running); its state. `pcap`: the
    daemon records the air there (upurse.rig.air) until it stops."""
    root = Path(root)
    state = running(root)
    if state is not None:
        return dict(state, already=True)
    (root / "rig").mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "upurse.rig.daemon", "--dir", str(root)]
    argv += ["--pcap", str(Path(pcap).resolve())] if pcap else []
    return spawn(root, argv, root / "rig" / "daemon.log", timeout=timeout)


def down(root: Path, timeout: float = 10.0, name: str = STATE) -> bool:
    """Stop the rig of this issuer folder; False if none was running."""
    state = running(root, name)
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
    state_file(root, name).unlink(missing_ok=True)
    return True
