"""`--pcap FILE`: what the simulated field recorded, as pcapng that Wireshark decodes.

Debian's tshark reads the files: ISO 14443 activation, I-blocks with good CRCs, chained blocks
reassembled, and (with `-d iso14443.subdissector,iso7816`) our SELECT and every APDU and
response of a transfer with a public-key roll (254-byte APDUs, chained both ways).
"""
from __future__ import annotations

import io
import json
import re
import subprocess
from pathlib import Path

from test_rig_cli import upurse

from upurse.pcapng import PcapngWriter
from upurse.protocol import proto
from upurse.rig.air import AirRecorder, crc_a

DECODE = ["-d", "iso14443.subdissector,iso7816"]


def tshark(path: Path, *args: str) -> str:
    proc = subprocess.run(["tshark", "-r", str(path), *DECODE, *args], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def frames(verbose: str) -> list[str]:
    return re.split(r"\n(?=Frame \d+:)", verbose.strip())


def test_crc_a_vectors():
    # ISO/IEC 14443-3 Annex B: HLTA 50 00 -> 57 CD; a PN532's RATS E0 80 -> 31 73
    assert crc_a(b"\x50\x00") == b"\x57\xcd"
    assert crc_a(b"\xe0\x80") == b"\x31\x73"


def test_chaining_and_block_numbers():
    """A 100-byte command to a card of FSC 64 goes in two chained I-blocks, the first one
    acknowledged; a 300-byte response in two, the second asked for by R(ACK)."""
    out = io.BytesIO()
    out.close = lambda: None  # keep the bytes readable
    rec = AirRecorder(PcapngWriter(out, ["A"]), epoch=1.7e9)
    rec.record(0.0, "A", "c", "activate", b"\x08\x01\x02\x03")
    rec.record(0.1, "A", "c", "cmd", bytes(100))
    rec.record(0.2, "A", "c", "rsp", bytes(300))
    rec.record(0.3, "A", "c", "cmd", b"\x00\xa4\x04\x00")
    rec.close()
    data = out.getvalue()
    packets = []
    at = 0
    while at < len(data):
        kind, size = int.from_bytes(data[at:at + 4], "little"), int.from_bytes(
            data[at + 4:at + 8], "little")
        if kind == 6:
            caplen = int.from_bytes(data[at + 20:at + 24], "little")
            packets.append(data[at + 28:at + 28 + caplen])
        at += size
    events = [(p[1], p[4:5].hex()) for p in packets]
    pcbs = [pcb for _, pcb in events[9:-1]]
    assert events[0] == (0xFC, "") and events[1] == (0xFA, "26")  # field on, REQA (no CRC)
    # I(chain,0) R(ACK,0) I(1) | I(chain,1) R(ACK,0) I(0) | I(1) ... field off
    assert pcbs == ["12", "a2", "03", "13", "a2", "02", "03"]
    assert events[-1] == (0xFD, "")
    assert all(crc_a(p[4:-2]) == p[-2:] for p in packets if p[1] in (0xFE, 0xFF))


def test_transfer_with_public_key_roll_decodes(tmp_path: Path):
    d = ["--dir", "iss"]
    upurse(tmp_path, "issuer", "init", *d)
    upurse(tmp_path, "card", "create", "c", "--balance", "300", "--scheme", "hybrid-update", *d)
    upurse(tmp_path, "issuer", "rotate-transfer-key", *d)
    upurse(tmp_path, "issuer", "rotate-update-key", *d)
    upurse(tmp_path, "card", "create", "d", "--balance", "200", "--scheme", "hybrid-update", *d)
    pcap = tmp_path / "air.pcapng"
    r = json.loads(upurse(tmp_path, "transfer", "d", "c", "50", "--json", "--pcap", str(pcap),
                          *d).stdout)
    assert r["key_roll"] not in ("none", "update-key")
    cmds = [bytes.fromhex(e[4]) for e in r["air"] if e[3] == "cmd"]
    rsps = [bytes.fromhex(e[4]) for e in r["air"] if e[3] == "rsp"]
    assert max(map(len, cmds)) >= 254  # certificates: chained I-blocks reader to card
    verbose = tshark(pcap, "-V")
    assert "Malformed" not in verbose and "[CRC Status: Bad]" not in verbose
    assert verbose.count("Event: Field on") == 2 == verbose.count("Event: Field off")
    assert verbose.count("Message: ATS") == verbose.count("Message: RATS") >= 2
    apdus = [f for f in frames(verbose) if "ISO 7816 Command APDU" in f]
    answers = [f for f in frames(verbose) if "ISO 7816 Response APDU" in f]
    assert len(apdus) == len(cmds) and len(answers) == len(rsps)
    for frame, apdu in zip(apdus + answers, cmds + rsps, strict=True):
        if "Command APDU" in frame:  # CLA 80h: "coding is proprietary", so no INS shown
            cla = re.search(r"Class: .*\(0x([0-9a-f]{2})\)", frame).group(1)
            assert int(cla, 16) == apdu[0]
        if "Apdu fragments" not in frame:  # one I-block: its INF is the APDU
            inf = re.search(r"INF: ([0-9a-f]+)", frame).group(1)
            assert apdu.hex().startswith(inf)
    selects = [f for f in apdus if "Instruction: Select file (0xa4)" in f]
    assert len(selects) >= 2 and all(f"APDU Body: {proto.AID.hex()}" in f for f in selects)
    sw = r"Status Word SW1: .*\(0x([0-9a-f]{2})\)\n\s*Status Word SW2: (?:.*\()?0x([0-9a-f]{2})"
    words = [re.search(sw, f).groups() for f in answers]
    assert [bytes.fromhex("".join(w)) for w in words] == [r[-2:] for r in rsps]
    chained = re.findall(r"\[(\d+) Apdu fragments \((\d+) bytes\)", verbose)
    assert chained and {int(n) for _, n in chained} <= {len(a) for a in cmds + rsps}


def test_rig_daemon_records_live_and_direct_refuses(tmp_path: Path):
    d = ["--dir", "iss"]
    upurse(tmp_path, "issuer", "init", *d)
    upurse(tmp_path, "card", "create", "a", "--balance", "100", *d)
    upurse(tmp_path, "card", "create", "b", "--balance", "100", *d)
    live = tmp_path / "live.pcapng"
    upurse(tmp_path, "rig", "up", "--pcap", str(live), *d)
    try:
        upurse(tmp_path, "transfer", "a", "b", "7", *d)
    finally:
        upurse(tmp_path, "rig", "down", *d)
    summary = tshark(live)
    assert summary.count("Select file") >= 2 and "Field off" in summary
    err = upurse(tmp_path, "transfer", "a", "b", "1", "--rig", "direct", "--pcap", "x", *d,
                 ok=False)
    assert err.returncode == 1 and "--pcap records the simulated field" in err.stderr
    assert len(err.stderr.strip().splitlines()) == 1 and not (tmp_path / "x").exists()
