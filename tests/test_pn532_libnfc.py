"""libnfc's own PN532 driver against the simulated field: `nfc-list` (Debian libnfc-bin),
`nfc-poll` and `nfc-anticol` (libnfc-examples) open an emulated reader PN532 over its pty
(connection string pn532_uart:/dev/pts/N) and find the card a MicroPython card board
emulates in its field. An independent host stack agreeing with
the simulator byte for byte is the check that the simulator is a PN532 and not our echo."""
from __future__ import annotations

import os
import shutil
import subprocess
import threading
from contextlib import contextmanager

from conftest import MPY_TESTS
from test_pn532_sim import Host, rsp

from upurse.rig import Field
from upurse.rig.board import spawn

NFC_LIST = shutil.which("nfc-list") or "/usr/bin/nfc-list"  # Makefile: apt-get install libnfc-bin
NFC_POLL = shutil.which("nfc-poll") or "/usr/bin/nfc-poll"  # ... and libnfc-examples
NFC_ANTICOL = shutil.which("nfc-anticol") or "/usr/bin/nfc-anticol"
ATS_LINE = "ATS: 75  33  92  03"


def libnfc_env(path: str) -> dict[str, str]:
    return dict(os.environ, LIBNFC_DEFAULT_DEVICE=f"pn532_uart:{path}",
                LIBNFC_AUTO_SCAN="false", LIBNFC_INTRUSIVE_SCAN="false", LIBNFC_LOG_LEVEL="1")


def libnfc(tool: str, path: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([tool, *args], env=libnfc_env(path), capture_output=True, text=True,
                          timeout=30)


def nfc_list(path: str) -> subprocess.CompletedProcess:
    return libnfc(NFC_LIST, path)


@contextmanager
def card_board(uid3: str = "random"):
    """A reader "A" with a MicroPython card board armed in its field: (field, reader pty)."""
    with Field() as field:
        a = field.add_reader("A")
        c = field.add_card("card-a")
        field.place("card-a", "A")
        card = spawn("micropython", MPY_TESTS / "pn532_card.py", c, uid3, "20",
                     heap="64k", path=(MPY_TESTS,))
        try:
            assert field.wait(lambda: field.chip("card-a").can_activate(), 10)
            yield field, a
        finally:
            card.terminate()
            card.communicate(timeout=10)


def test_nfc_list_one_card_one_target():
    """The card board re-arms with a fresh random UID after each deselect. libnfc lists, then
    deselects and lists again with 3 tries until it meets a target it saw. A real card board
    takes milliseconds to re-arm over its 115200-baud link, on a pty it takes one: the card
    PN532 answers a field 40 ms after a release, so one card is one target (not 16)."""
    with card_board() as (field, a):
        listed = nfc_list(a)
        reader = field.chip("A")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "1 ISO14443A passive target(s) found:" in listed.stdout, listed.stdout
    assert ATS_LINE in listed.stdout
    assert sum(d[0] == 0x4A for d in reader.received) >= 2  # libnfc did look again


def test_nfc_poll_finds_card_until_removed():
    """nfc-poll: InAutoPoll lists the card with its ATS, then libnfc pings it (an R(NAK) over
    InCommunicateThru, answered R(ACK)) until the card leaves the field."""
    with card_board() as (field, a):
        reader = field.chip("A")

        def pull() -> None:  # once libnfc has pinged the listed card a few times
            field.wait(lambda: sum(d[0] == 0x42 for d in reader.received) >= 3, 20)
            field.remove("card-a")

        puller = threading.Thread(target=pull)
        puller.start()
        polled = libnfc(NFC_POLL, a)
        puller.join()
    assert polled.returncode == 0, polled.stdout + polled.stderr
    out = polled.stdout
    assert "ISO/IEC 14443A (106 kbps) target:" in out and ATS_LINE in out
    assert "SAK (SEL_RES): 20" in out
    assert "Waiting for card removing...done." in out
    polls = [d for d in reader.received if d[0] == 0x60]
    assert polls and polls[0][3:5] == b"\x20\x10"  # ISO 14443-4A first: the ATS is wanted
    pings = [d for d in reader.received if d[0] == 0x42]
    assert len(pings) >= 3 and pings[0][1] & 0xE6 == 0xA2  # R-blocks, answered while there
    assert [e.direction for e in field.trace][:1] == ["activate"]


def test_nfc_anticol_runs_iso14443a_itself():
    """nfc-anticol turns the chip's CRC off and sends REQA in 7 bits, ANTICOLLISION, SELECT,
    RATS and HLTA through InCommunicateThru: the card board sees the RATS libnfc sent."""
    with card_board("c0ffee") as (field, a):
        run = libnfc(NFC_ANTICOL, a)
        reader = field.chip("A")
    assert run.returncode == 0, run.stdout + run.stderr
    lines = [line.strip() for line in run.stdout.splitlines()]
    assert "Received bits: 04  00" in lines  # ATQA
    assert "Received bits: 08  c0  ff  ee  d9" in lines  # UID and BCC
    assert "UID: 08c0ffee" in lines and "SAK: 20" in lines
    assert "ATS: 05  75  33  92  03  ac  63" in lines  # with the card's CRC_A: CRC is off
    assert bytes.fromhex("08 6302 00 6303 00") in reader.received  # TxCRCEn, RxCRCEn off
    assert bytes.fromhex("08 633d 07") in reader.received  # 7 bits for REQA
    first = field.trace[0]
    assert (first.direction, first.data) == ("activate", bytes.fromhex("08c0ffee"))


def test_nfc_list_sees_micropython_card():
    with Field() as field:
        a = field.add_reader("A")
        c = field.add_card("card-a")
        field.place("card-a", "A")
        card = spawn("micropython", MPY_TESTS / "pn532_card.py", c, "c0ffee", "20",
                     heap="64k", path=(MPY_TESTS,))
        try:
            assert field.wait(lambda: field.chip("card-a").can_activate(), 10)
            listed = nfc_list(a)
        finally:
            card.terminate()
            out_c = card.communicate(timeout=10)[0]
    print(listed.stdout)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    lines = [line.strip() for line in listed.stdout.splitlines()]
    assert "NFC device: user defined default device opened" in lines
    assert "1 ISO14443A passive target(s) found:" in lines
    assert "ISO/IEC 14443A (106 kbps) target:" in lines
    assert "ATQA (SENS_RES): 00  04" in lines
    assert "UID (NFCID3): 08  c0  ff  ee" in lines  # libnfc calls 08h-first UIDs NFCID3
    assert "SAK (SEL_RES): 20" in lines
    assert "ATS: 75  33  92  03" in lines
    assert "ACTIVATED e080" in out_c  # the card board saw the activation (RATS) ...
    assert "RELEASED" in out_c  # ... and nfc-list's deselect
    reader = field.chip("A")
    assert reader.received[0] == bytes.fromhex("14 01")  # libnfc: SAMConfiguration first
    assert reader.received[1] == bytes.fromhex("00 00") + b"libnfc"  # Diagnose line test
    assert reader.received[-1][0] == 0x16  # PowerDown on close


def test_nfc_list_empty_field():
    with Field() as field:
        a = field.add_reader("A")
        listed = nfc_list(a)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "NFC device: user defined default device opened" in listed.stdout
    assert "target(s) found" not in listed.stdout


def test_nfc_list_lists_a_host_emulated_card_with_its_ats():
    """A card emulated by a host stack through TgInitAsTarget, answering RATS itself: libnfc's
    reader waits for that ATS and lists the card with it."""
    with Field() as field:
        a = field.add_reader("A")
        k = Host(field.add_card("card"))
        field.place("card", "A")
        k.begin()
        assert k.call("12 00") == rsp("13")  # no fISO14443-4_PICC: the host answers RATS
        k.send("8C 04 0400 abcdef 20" + "00" * 28 + "00 00")
        assert field.wait(lambda: field.chip("card").can_activate(), 1)
        listing = subprocess.Popen([NFC_LIST], env=libnfc_env(a), stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        try:
            assert k.frame() == rsp("8D 00 E0 80")  # libnfc's RATS (FSDI 8, CID 0)
            assert k.call("90 06 75 77 81 02 80") == rsp("91 00")  # TgResponseToInitiator: ATS
            assert k.call("88") == rsp("89 29")  # libnfc deselects: released
            out = listing.communicate(timeout=30)[0]
        finally:
            listing.kill()
            k.close()
    assert listing.returncode == 0, out
    assert "1 ISO14443A passive target(s) found:" in out, out
    assert "UID (NFCID3): 08  ab  cd  ef" in out
    assert "ATS: 75  77  81  02  80" in out
