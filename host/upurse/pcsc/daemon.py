"""The PC/SC rig: pcscd with vsmartcard's virtual reader, emulated cards in its two slots.

    unshare --net --mount python -m upurse.pcsc.daemon --dir ISSUER [--card SLOT=FLASH]...
        [--interpreter micropython|cpython]
    (what `upurse rig pcsc up` starts)

vpcd listens on every interface, so pcscd runs in a network namespace of its own that has only
loopback, and the card clients connect to it there. pcscd's runtime folder /run/pcscd is a
fresh temporary folder bind-mounted in a mount namespace of its own, so any number of these
rigs run beside the system's pcscd; clients outside reach this one through the path of its
socket in PCSCLITE_CSOCK_NAME (libpcsclite reads it: opensc-tool, pcsc_scan, scriptor,
pyscard). pcscd runs in the foreground as this process's child, ended by its PID.

State file ISSUER/pcsc.json (pid, pcscd's pid, the client socket, the control socket);
requests, one JSON line each over the control socket (upurse.rig.control.call):

    {"op": "info"}                                  readers and which card is in each
    {"op": "put", "slot": 0, "store": FLASH}        put a card in a reader (out of any other)
    {"op": "pull", "slot": 0, "after": N}           take it away (after N more commands)
    {"op": "down"}
"""
from __future__ import annotations

import argparse
import ctypes
import fcntl
import os
import shutil
import signal
import socket
import socketserver
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from upurse.cardproc import CardProcess
from upurse.pcsc.vicc import VirtualCard
from upurse.rig import control
from upurse.rig.daemon import _Handler

STATE = "pcsc.json"
SLOTS = (0, 1)
READER = "Virtual PCD 00 %02d"  # pcscd's name for vpcd's slot (FRIENDLYNAME, reader, slot)
RUN = Path("/run/pcscd")
PR_SET_PDEATHSIG = 1
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
START_TIMEOUT = 10.0
POLL = 0.4  # pcscd asks each reader this often whether a card is in it


def reader_name(slot: int) -> str:
    return READER % slot


def _die_with_parent() -> None:
    """pcscd gets SIGTERM if this daemon dies without ending it."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class PcscRig(socketserver.UnixStreamServer):
    def __init__(self, rundir: Path, log, interpreter: str = "micropython") -> None:
        self.rundir, self.interpreter = rundir, interpreter
        self.lock = threading.Lock()
        self.cards: dict[int, VirtualCard] = {}
        self.stores: dict[int, str] = {}
        self.left: dict[int, float] = {}  # when the last card left each slot
        self.cut: dict[int, int] = {}  # INS of the command a card pulled mid-way never saw
        self.pcscd = subprocess.Popen(["pcscd", "--foreground"], stdin=subprocess.DEVNULL,
                                      stdout=log, stderr=log, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + START_TIMEOUT
        while not (rundir / "pcscd.comm").exists():
            if self.pcscd.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pcscd did not start (exit {self.pcscd.returncode})")
            time.sleep(0.02)
        super().__init__(str(rundir / "ctl"), _Handler)

    def put(self, slot: int, store: str) -> None:
        for other, s in list(self.stores.items()):
            if s == store or other == slot:
                self.pull(other)
        # a card put back before pcscd's next poll would never be reported again
        time.sleep(max(0.0, self.left.get(slot, 0.0) + POLL + 0.1 - time.monotonic()))
        deadline = time.monotonic() + START_TIMEOUT
        while True:  # vpcd opens its port once pcscd has loaded the driver
            try:
                card = VirtualCard(slot, lambda: CardProcess(Path(store), self.interpreter),
                                   Path(store).name)
                break
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        self.cards[slot], self.stores[slot] = card, store
        if not card.seen.wait(START_TIMEOUT):  # vpcd accepts on its next poll
            raise RuntimeError(f"pcscd did not take the card in {reader_name(slot)}")

    def pull(self, slot: int, after: int | None = None) -> None:
        card = self.cards.get(slot)
        if card is None:
            return
        if after is not None:
            return card.pull_after(after)
        card.remove()
        if card.cut is not None:
            self.cut[slot] = card.cut
        del self.cards[slot], self.stores[slot]
        self.left[slot] = time.monotonic()

    def info(self) -> dict:
        for slot in list(self.cards):  # a card pulled mid-command has left by itself
            if not self.cards[slot].thread.is_alive():
                self.pull(slot)
        return {"readers": {reader_name(s): self.stores.get(s) for s in SLOTS},
                "answered": {reader_name(s): c.answered for s, c in self.cards.items()},
                "longest": {reader_name(s): c.longest for s, c in self.cards.items()},
                "cut": {reader_name(s): ins for s, ins in self.cut.items()},
                "pcscd_pid": self.pcscd.pid}

    def serve(self, req: dict) -> dict:
        op = req.get("op")
        if op == "put":
            self.put(int(req["slot"]), str(Path(req["store"]).resolve()))
        elif op == "pull":
            self.pull(int(req["slot"]), req.get("after"))
        elif op == "down":
            threading.Thread(target=self.shutdown, daemon=True).start()
            return {}
        elif op != "info":
            raise ValueError(f"unknown op {op!r}")
        return self.info()

    def stop(self) -> None:
        for slot in list(self.cards):
            self.pull(slot)
        self.pcscd.terminate()
        try:
            self.pcscd.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.pcscd.kill()
            self.pcscd.wait()
        self.server_close()


def loopback_up() -> None:
    """`ip link set lo up`, without needing iproute2 (netdevice(7): SIOCGIFFLAGS, SIOCSIFFLAGS)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        flags = struct.unpack("16sH", fcntl.ioctl(s, SIOCGIFFLAGS, struct.pack("16sH", b"lo", 0)))
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags[1] | IFF_UP))


def isolate(rundir: Path) -> None:
    """Inside the new namespaces: loopback up, our folder as /run/pcscd."""
    loopback_up()
    RUN.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "--bind", str(rundir), str(RUN)], check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True, help="issuer folder")
    parser.add_argument("--card", action="append", default=[], metavar="SLOT=FLASH")
    parser.add_argument("--interpreter", default="micropython", help="the cards' interpreter")
    args = parser.parse_args(argv)
    root = args.dir.resolve()
    rundir = Path(tempfile.mkdtemp(prefix="upurse-pcsc-"))
    rundir.chmod(0o755)
    rig = None
    try:
        isolate(rundir)
        with open(root / "pcsc.log", "ab") as log:
            rig = PcscRig(rundir, log, args.interpreter)
        signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=rig.shutdown).start())
        for spec in args.card:
            slot, store = spec.split("=", 1)
            rig.put(int(slot), str(Path(store).resolve()))
        state = {"pid": os.getpid(), "pcscd_pid": rig.pcscd.pid, "socket": str(rundir / "ctl"),
                 "pcsclite_socket": str(rundir / "pcscd.comm"),
                 "readers": [reader_name(s) for s in SLOTS], "started": time.time()}
        control.publish(root, state, STATE)
        print(f"pcsc rig up: pcscd pid {rig.pcscd.pid}", flush=True)
        rig.serve_forever(poll_interval=0.2)
    finally:
        control.withdraw(root, STATE)
        if rig is not None:
            rig.stop()
        shutil.rmtree(rundir, ignore_errors=True)
        print("pcsc rig down", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
