"""The rig daemon: one SimRig kept running in the background for an issuer folder.

    python -m upurse.rig.daemon --dir ISSUER [--pcap FILE]     (what `upurse rig up` starts)

Its work folder is ISSUER/rig/ (board logs, the terminal's flash, the blank cards); its state
file ISSUER/rig.json; its control socket a unix socket in a fresh temporary folder (short path).
Requests, one JSON line each (upurse.rig.control.call):

    {"op": "info"}                                  ports and which card is where
    {"op": "arrange", "wanted": {"A": flash, "B": flash}}   put these cards on these readers
    {"op": "pull", "reader": "A"}                   take the card off a reader (arrange: back)
    {"op": "eject", "store": flash}                 let go of a card's flash
    {"op": "trace", "since": n}                     the field's exchanges from the n-th on
    {"op": "down"}
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socketserver
import sys
import tempfile
import threading
import time
from pathlib import Path

from upurse.rig.control import publish, withdraw
from upurse.rig.sim import SimRig


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        line = self.rfile.readline()
        try:
            req = json.loads(line)
            with self.server.lock:
                reply = self.server.serve(req)
            reply["ok"] = True
        except Exception as e:  # noqa: BLE001 - the client gets the one-line reason
            reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        self.wfile.write(json.dumps(reply).encode() + b"\n")


class Daemon(socketserver.UnixStreamServer):
    def __init__(self, root: Path, sock: str) -> None:
        self.root = root
        self.rig = SimRig(root / "rig")
        self.lock = threading.Lock()
        super().__init__(sock, _Handler)

    def serve(self, req: dict) -> dict:
        op = req.get("op")
        rig = self.rig
        if op == "info":
            return {"ports": rig.ports(), "placement": rig.placement(), "pid": os.getpid()}
        if op == "arrange":
            rig.arrange({r: Path(s) for r, s in req["wanted"].items()})
            return {"placement": rig.placement()}
        if op == "pull":  # a person takes the card off a reader (fault tests)
            slots = [s for s, p in rig.placement().items() if p["reader"] == req["reader"]]
            for slot in slots:
                rig.field.remove(slot)
            return {"pulled": slots}
        if op == "eject":
            return {"ejected": rig.eject(Path(req["store"]))}
        if op == "trace":
            since = min(int(req.get("since", 0)), len(rig.field.trace))
            entries = rig.field.trace[since:]
            return {"next": since + len(entries), "epoch": rig.field.epoch,
                    "trace": [[e.time, e.reader, e.card, e.direction, e.data.hex()]
                              for e in entries]}
        if op == "down":
            threading.Thread(target=self.shutdown, daemon=True).start()
            return {}
        raise ValueError(f"unknown op {op!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True, help="issuer folder")
    parser.add_argument("--pcap", type=Path, help="record the air to this pcapng file")
    args = parser.parse_args(argv)
    root = args.dir.resolve()
    sockdir = tempfile.mkdtemp(prefix="upurse-rig-")
    sock = os.path.join(sockdir, "ctl")
    daemon = Daemon(root, sock)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=daemon.shutdown).start())
    recorder = None
    if args.pcap:
        from upurse.rig.air import record_live

        recorder = record_live(daemon.rig.field, args.pcap)
    try:
        daemon.rig.start()
        state = {"pid": os.getpid(), "socket": sock, "ports": daemon.rig.ports(),
                 "workdir": str(root / "rig"), "started": time.time()}
        publish(root, state)
        print(f"rig up: {json.dumps(state['ports'])}", flush=True)
        daemon.serve_forever(poll_interval=0.2)
    finally:
        withdraw(root)
        daemon.rig.stop()
        if recorder is not None:
            recorder.close()
        daemon.server_close()
        shutil.rmtree(sockdir, ignore_errors=True)
        print("rig down", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
