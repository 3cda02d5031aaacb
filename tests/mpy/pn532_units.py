"""PN532 driver units against scripted transports: the exact frames written, the frames read.

    micropython pn532_units.py

Each script lists the host's writes (W) and the chip's frames (R) in order, one comment per
frame, as nfcpy's PN53x tests do. The hex builders below compute LEN/LCS/DCS on their own, so
they check drivers.pn532_frame rather than repeat it.
Prints `OK pn532 units N checks` or the first failure (exit 1).
"""
import sys
from binascii import hexlify, unhexlify

from drivers import pn532_frame as fr
from drivers.pn532 import CHUNK, Pn532, Pn532Error
from drivers.pn532_i2c import Pn532I2c
from drivers.pn532_spi import Pn532Spi
from drivers.pn532_uart import Pn532Uart

checks = 0


def h(text):
    return unhexlify(text.replace(" ", ""))


def hx(data):
    return "-" if data is None else hexlify(bytes(data)).decode()


def frame(tfi, text):
    body = bytes((tfi,)) + h(text)
    n = len(body)
    if n <= 255:
        head = bytes((0, 0, 0xFF, n, (256 - n) & 0xFF))
    else:
        hi, lo = n >> 8, n & 0xFF
        head = bytes((0, 0, 0xFF, 0xFF, 0xFF, hi, lo, (512 - hi - lo) & 0xFF))
    return head + body + bytes(((256 - sum(body) % 256) & 0xFF, 0))


def CMD(text):  # noqa: N802 - reads like the frames it builds
    return frame(0xD4, text)


def RSP(text):  # noqa: N802
    return frame(0xD5, text)


ACK = h("0000ff00ff00")
NACK = h("0000ffff0000")
ERR = h("0000ff01ff7f8100")
WAKE = "wake"


def check(cond, what):
    global checks
    if not cond:
        print("FAIL", what)
        sys.exit(1)
    checks += 1


def raises(code, fn, *args):
    try:
        fn(*args)
    except Pn532Error as e:
        check(e.code == code, f"error 0x{code:02x}, got {e}")
        return e
    check(False, f"no Pn532Error 0x{code:02x}")


class Script:
    """A transport that plays a PN532: W(frame) expected next write, R(frame) next read."""

    def __init__(self, *steps):
        self.steps = list(steps)

    def _next(self, kind):
        check(self.steps, "script ended, driver wanted to " + kind)
        step = self.steps.pop(0)
        check(step[0] == kind, f"driver did {kind}, script says {step[0]} {hx(step[1])}")
        return step[1]

    def wakeup(self):
        self._next(WAKE)

    def write(self, data):
        want = self._next("W")
        check(bytes(data) == want, f"wrote {hx(data)}, want {hx(want)}")

    def read_frame(self, buf, timeout_ms):
        data = self._next("R")
        if data is None:  # nothing came in time
            return 0
        buf[: len(data)] = data
        return len(data)

    def done(self):
        check(not self.steps, f"script left {len(self.steps)} steps")


def W(data):  # noqa: N802
    return ("W", data)


def R(data):  # noqa: N802
    return ("R", data)


def test_frames():
    buf = bytearray(fr.FRAME_MAX)
    n = fr.encode(buf, 0x02, b"", b"")
    check(buf[:n] == h("0000ff02fed4022a00"), "GetFirmwareVersion frame (nfcpy's bytes)")
    apdu = bytes(i & 0xFF for i in range(262))
    n = fr.encode(buf, 0x40, b"\x01", apdu)  # 265 bytes TFI..PDn: extended frame
    check(buf[:n] == CMD("40 01" + hx(apdu)), "extended InDataExchange frame")
    check(buf[3:8] == h("ffff0109f6"), "extended LEN 0109 and LCS")
    n = fr.encode(buf, 0x40, b"\x01", apdu[:252])  # 255 bytes: still a normal frame
    check(buf[3] == 0xFF and buf[4] == 0x01, "255-byte normal frame")
    try:
        fr.encode(buf, 0x40, b"\x01", bytes(263))
        check(False, "266-byte frame accepted")
    except ValueError:
        check(True, "")
    for data, kind in (
        (ACK, fr.KIND_ACK),
        (NACK, fr.KIND_NACK),
        (ERR, fr.KIND_ERROR),
        (RSP("03 32 01 06 07"), fr.KIND_INFO),
        (h("01") + RSP("15"), fr.KIND_INFO),  # I2C status byte first
        (h("55 00 00") + RSP("15") + h("00 00"), fr.KIND_INFO),  # junk, preamble, trailer
        (RSP("03 32 01 06 07")[:-3], fr.KIND_BAD),  # cut short
        (h("0000ff03fcd51500"), fr.KIND_BAD),  # LCS wrong
        (h("0000ff02fed51517"), fr.KIND_BAD),  # DCS wrong
        (h("0000ff02fed41600"), fr.KIND_BAD),  # a host frame (TFI D4)
    ):
        b = bytearray(data)
        check(fr.decode(b, len(b))[0] == kind, "decode kind of " + hx(data))
    b = bytearray(RSP("41 00" + "ab" * 300))
    kind, at, size = fr.decode(b, len(b))
    check(kind == fr.KIND_INFO and size == 302 and b[at] == 0x41, "extended response decoded")
    b = bytearray(h("00") + RSP("03 32 01 06 07"))
    for n in range(len(b)):  # a header still coming in: 0 until LEN/LCS are there
        end = fr.frame_end(b, n)
        check(end == (0 if n < 6 else len(b)), f"frame_end at {n}: {end}")
    b = bytearray(h("0000ff03fcd51500"))
    check(fr.frame_end(b, len(b)) == -1, "frame_end on a bad LCS")
    b = bytearray(ACK)
    check(fr.frame_end(b, 5) == 6, "ACK length with postamble")


def test_begin():
    t = Script(
        (WAKE, None),
        W(CMD("14 01 00 01")), R(ACK), R(RSP("15")),  # SAMConfiguration: normal, IRQ on
        W(CMD("02")), R(ACK), R(RSP("03 32 01 06 07")),  # GetFirmwareVersion: PN532 V1.6
    )
    check(Pn532(t).begin() == (0x32, 1, 6, 7), "begin returns the firmware version")
    t.done()


def test_link_errors():
    t = Script(W(CMD("02")), R(None))  # no ACK at all
    raises(0x80, Pn532(t).firmware_version)
    t = Script(W(CMD("02")), R(ACK), R(ERR))  # syntax error frame after the ACK
    e = raises(0x7F, Pn532(t).firmware_version)
    check("syntax error" in str(e), "error frame message: " + str(e))
    t = Script(
        W(CMD("02")), R(ACK),
        R(h("0000ff06fad50332010607ff00")),  # DCS corrupted on the way
        W(NACK), R(RSP("03 32 01 06 07")),  # §6.2.1.4: the same response again
    )
    check(Pn532(t).firmware_version() == (0x32, 1, 6, 7), "NACK recovers a bad frame")
    t.done()
    bad = h("0000ff06fad50332010607ff00")
    t = Script(W(CMD("02")), R(ACK), R(bad), W(NACK), R(bad), W(NACK), R(bad))
    raises(0x82, Pn532(t).firmware_version)
    t = Script(W(CMD("02")), R(ACK), R(RSP("15")))  # answer to another command
    raises(0x83, Pn532(t).firmware_version)
    t = Script(
        W(CMD("02")),
        R(RSP("4B 00")),  # late answer of an aborted InListPassiveTarget: skipped
        R(ACK), R(RSP("03 32 01 06 07")),
    )
    check(Pn532(t).firmware_version()[0] == 0x32, "stale frame before the ACK skipped")
    t.done()


def test_reader():
    t = Script(
        W(CMD("4A 01 00")), R(ACK),  # InListPassiveTarget: 1 target, 106 kbps type A
        R(RSP("4B 01 01 00 04 20 04 08 12 34 56 05 75 33 92 03")),  # ISO-DEP card, ATS
        W(CMD("40 01 00 A4 04 00")), R(ACK), R(RSP("41 00 90 00")),  # InDataExchange
        W(CMD("40 01 00 B0 00 00")), R(ACK), R(RSP("41 01")),  # status 01: card silent
        W(CMD("52 00")), R(ACK), R(RSP("53 00")),  # InRelease all
    )
    nfc = Pn532(t)
    check(nfc.list_target(500) == h("08123456"), "UID of the listed target")
    check(nfc.sens_res == h("0004") and nfc.sel_res == 0x20, "ATQA and SAK kept")
    check(nfc.ats == h("0575339203"), "ATS kept with its TL byte")
    check(nfc.transmit(h("00A40400")) == h("9000"), "transmit returns the response APDU")
    e = raises(0x01, nfc.transmit, h("00B00000"))
    check(str(e) == "PN532 error 0x01: timeout, the target has not answered", str(e))
    nfc.release()
    t.done()
    t = Script(W(CMD("4A 01 00")), R(ACK), R(RSP("4B 00")))  # finite retries: no target
    check(Pn532(t).list_target(500) is None, "NbTg 0 -> None")
    t = Script(
        W(CMD("4A 01 00")), R(ACK), R(None),  # still polling when the time is up
        W(ACK),  # §6.2.1.3: abort the command
    )
    check(Pn532(t).list_target(500) is None, "polling aborted -> None")
    t.done()


def test_reader_chaining():
    t = Script(
        W(CMD("40 41 00 01 02 03")), R(ACK), R(RSP("41 00")),  # MI in Tg: more follows
        W(CMD("40 41 04 05 06 07")), R(ACK), R(RSP("41 00")),
        W(CMD("40 01 08 09")), R(ACK), R(RSP("41 40 AA BB")),  # MI in status: more waits
        W(CMD("40 01")), R(ACK), R(RSP("41 40 CC")),  # fetch the rest: Tg only
        W(CMD("40 01")), R(ACK), R(RSP("41 00 90 00")),
    )
    nfc = Pn532(t)
    nfc.chunk = 4
    check(nfc.transmit(bytes(range(10))) == h("AABBCC9000"), "chained both ways")
    t.done()
    t = Script(W(CMD("40 41 00 01")), R(ACK), R(RSP("41 01")))
    nfc = Pn532(t)
    nfc.chunk = 2
    raises(0x01, nfc.transmit, h("00010203"))  # card gone in the middle of a chain
    apdu = bytes(range(250))
    t = Script(W(CMD("40 01" + hx(apdu))), R(ACK), R(RSP("41 00" + hx(apdu) + "9000")))
    check(Pn532(t).transmit(apdu) == apdu + h("9000"), "250-byte APDU in one frame")
    check(CHUNK == 262, "default chunk is the PN532's 262 bytes")


TG_PARAMS = "05 0400 123456 20" + "00" * 18 + "00" * 10 + "00 00"


def test_target():
    t = Script(
        W(CMD("12 30")), R(ACK), R(RSP("13")),  # SetParameters: auto RATS, ISO-DEP PICC
        W(CMD("8C " + TG_PARAMS)), R(ACK),  # TgInitAsTarget, PICC only, UID 08 12 34 56
        R(RSP("8D 08 E0 80")),  # activated as ISO 14443-4 PICC, first command RATS
        W(CMD("86")), R(ACK), R(RSP("87 00 00 A4 04 00")),  # TgGetData: an APDU
        W(CMD("8E 90 00")), R(ACK), R(RSP("8F 00")),  # TgSetData
        W(CMD("86")), R(ACK), R(RSP("87 29")),  # released by the reader
        W(CMD("8C " + TG_PARAMS)), R(ACK), R(None),  # re-armed; no reader in time
        (WAKE, None), W(ACK),  # the chip sleeps in TgInitAsTarget: wake it, then abort
    )
    nfc = Pn532(t)
    check(nfc.init_as_target(h("123456"), 1000) is True, "activated as PICC")
    check(nfc.initiator_command == h("E080"), "RATS as initiator command")
    check(nfc.get_data() == h("00A40400"), "APDU from the reader")
    nfc.set_data(h("9000"))
    e = raises(0x29, nfc.get_data)
    check("released" in str(e), str(e))
    check(nfc.init_as_target(h("123456"), 1000) is False, "no reader -> False")
    t.done()
    t = Script(
        W(CMD("86")), R(ACK), R(RSP("87 40 00 01")),  # MI: the APDU goes on
        W(CMD("86")), R(ACK), R(RSP("87 40 02 03")),
        W(CMD("86")), R(ACK), R(RSP("87 00 04")),
        W(CMD("94 AA BB")), R(ACK), R(RSP("95 00")),  # TgSetMetaData: MI to the reader
        W(CMD("94 CC DD")), R(ACK), R(RSP("95 00")),
        W(CMD("8E 90")), R(ACK), R(RSP("8F 00")),  # TgSetData: the last part
        W(CMD("8E 90 00")), R(ACK), R(RSP("8F 29")),  # reader gone meanwhile
        W(CMD("8A")), R(ACK), R(RSP("8B 01 00")),  # TgGetTargetStatus: activated 106/106
    )
    nfc = Pn532(t)
    nfc.chunk = 2
    check(nfc.get_data() == h("0001020304"), "chained command APDU")
    nfc.set_data(h("AABBCCDD90"))
    raises(0x29, nfc.set_data, h("9000"))
    check(nfc.target_status() == (1, 0), "target status")
    t.done()
    try:
        Pn532(Script()).init_as_target(b"\x08\x12\x34\x56", 10)
        check(False, "4-byte uid accepted")
    except ValueError:
        check(True, "")


class Stream:
    """A UART that delivers `chunks` one readinto at a time (b"" = nothing right now)."""

    def __init__(self, *chunks):
        self.chunks = list(chunks)
        self.pending = b""
        self.written = b""

    def readinto(self, buf):
        if not self.pending:
            if not self.chunks:
                return 0
            self.pending = self.chunks.pop(0)
        n = min(len(buf), len(self.pending))
        buf[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n

    def write(self, data):
        self.written += bytes(data)
        return len(data)


class Poller:
    def poll(self, timeout_ms):
        return []


def test_uart():
    s = Stream(ACK + RSP("03 32 01 06 07"))  # ACK and response in one burst
    u = Pn532Uart(s, Poller())
    buf = bytearray(fr.FRAME_MAX)
    n = u.read_frame(buf, 10)
    check(buf[:n] == ACK, "UART reads the ACK alone")
    n = u.read_frame(buf, 10)
    check(buf[:n] == RSP("03 32 01 06 07"), "then the response")
    check(u.read_frame(buf, 0) == 0, "nothing left: timeout")
    s = Stream(h("55 ff 00"), b"", h("00 00 ff 03 fc"), h("00"), RSP("15"))  # junk, bad LCS
    n = Pn532Uart(s, Poller()).read_frame(buf, 50)
    check(fr.decode(buf, n)[0] == fr.KIND_INFO and buf[n - 4 : n] == h("d5 15 16 00"),
          "UART resynchronises after junk and a bad header")
    s = Stream(RSP("15")[:-1])  # postamble never comes
    n = Pn532Uart(s, Poller()).read_frame(buf, 0)
    check(n == len(RSP("15")) - 1, "frame without postamble accepted")
    s = Stream(h("0000ff00ff00"))
    u = Pn532Uart(s, Poller())
    u.wakeup()
    check(s.written == h("5555") + bytes(14), "HSU wake-up: 55 55 and a long preamble")
    check(s.pending == b"" and not s.chunks, "wake-up drains stale input")


class I2C:
    def __init__(self, *reads):
        self.reads = list(reads)
        self.writes = []

    def writeto(self, addr, data):
        check(addr == 0x24, "I2C address")
        self.writes.append(bytes(data))

    def readfrom_into(self, addr, buf):
        data = self.reads.pop(0)
        if data is None:
            raise OSError(5)  # busy chip NACKs its address
        buf[:] = (data + bytes(len(buf)))[: len(buf)]


def test_i2c():
    bus = I2C(None, h("00"), h("01"), h("01") + ACK, h("01"), h("01") + RSP("03 32 01 06 07"))
    nfc = Pn532(Pn532I2c(bus))
    check(nfc.firmware_version() == (0x32, 1, 6, 7), "firmware version over I2C")
    check(bus.writes == [CMD("02")], "I2C wrote the frame")
    check(not bus.reads, "I2C polled status before each read")
    bus = I2C(h("00"), h("00"), h("00"))
    check(Pn532I2c(bus).read_frame(bytearray(8), 0) == 0, "I2C not ready: timeout")


class Pin:
    def __init__(self):
        self.log = []

    def __call__(self, v):
        self.log.append(v)


class SPI:
    def __init__(self, flip, *reads):
        self.flip = flip
        self.reads = list(reads)
        self.out = b""

    def _f(self, data):
        if not self.flip:
            return bytes(data)
        return bytes(sum(((b >> i) & 1) << (7 - i) for i in range(8)) for b in data)

    def write(self, data):
        self.out += self._f(data)

    def readinto(self, buf):
        data = self._f(self.reads.pop(0))
        buf[:] = (data + bytes(len(buf)))[: len(buf)]


def test_spi():
    for flip in (False, True):
        bus = SPI(flip, h("01"), ACK, h("00"), h("01"), RSP("03 32 01 06 07"))
        cs = Pin()
        nfc = Pn532(Pn532Spi(bus, cs, lsb_first=not flip))
        check(nfc.firmware_version() == (0x32, 1, 6, 7), "firmware version over SPI")
        # 01 data write + frame, 02 status read, 03 data read, ...
        want = h("01") + CMD("02") + h("02 03 02 02 03")
        check(bus.out == want, f"SPI bytes {hx(bus.out)} (flip {flip})")
        check(cs.log[0] == 1 and cs.log.count(0) == 6, "chip select per transfer")


test_frames()
test_begin()
test_link_errors()
test_reader()
test_reader_chaining()
test_target()
test_uart()
test_i2c()
test_spi()
print(f"OK pn532 units {checks} checks")
