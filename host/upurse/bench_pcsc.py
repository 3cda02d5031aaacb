"""PC/SC figures for `make bench`: an APDU's round trip through pyscard, pcscd, vpcd and the
card process, and a whole transfer over two virtual readers (`--rig pcsc`)."""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from upurse.protocol import proto

ROUNDS = 200


def _upurse(root: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "upurse.cli", *args, "--dir", str(root)], check=True,
                   capture_output=True, timeout=120)


def _round_trip_ms(connection, apdu: bytes) -> float:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        connection.transmit(list(apdu))
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 3)


def measure() -> dict:
    from upurse.pcsc.channel import SOCKET_ENV
    from upurse.pcsc.daemon import STATE
    from upurse.rig import control

    with tempfile.TemporaryDirectory(prefix="upurse-bench-pcsc-") as tmp:
        root = Path(tmp) / "issuer"
        _upurse(root, "issuer", "init")
        _upurse(root, "card", "create", "a", "--balance", "1000")
        _upurse(root, "issuer", "rotate-transfer-key")
        _upurse(root, "card", "create", "b", "--balance", "1000")
        _upurse(root, "rig", "pcsc", "up", "a", "b")
        try:
            os.environ[SOCKET_ENV] = control.running(root, STATE)["pcsclite_socket"]
            from smartcard.System import readers

            connection = readers()[0].createConnection()
            connection.connect()
            select = bytes([0x00, 0xA4, 0x04, 0x00, len(proto.AID)]) + proto.AID + b"\x00"
            long_apdu = bytes([0x80, 0xFF, 0, 0, 249]) + bytes(249)  # 254 bytes: 6D00
            out = {"pcsc_select_round_trip_ms": _round_trip_ms(connection, select),
                   "pcsc_254_byte_apdu_round_trip_ms": _round_trip_ms(connection, long_apdu)}
            connection.disconnect()
            connection.release()  # its PC/SC context, before this pcscd goes
            start = time.perf_counter()
            _upurse(root, "transfer", "b", "a", "10", "--rig", "pcsc")
            out["pcsc_transfer_with_key_roll_command_s"] = round(time.perf_counter() - start, 3)
        finally:
            _upurse(root, "rig", "pcsc", "down")
    return out


if __name__ == "__main__":
    print(measure())
