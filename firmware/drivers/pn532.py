"""PN532 NFC controller: reader (initiator) and ISO 14443-4 card emulation (target).

Follows NXP UM0701-02 (PN532 User Manual, firmware V1.6). The transport only moves frames:
`write(frame)`, `read_frame(buf, timeout_ms) -> n` (0 on timeout) and `wakeup()`; see
pn532_uart (HSU, also a unix pty), pn532_i2c and pn532_spi.

    nfc = Pn532(Pn532Uart(uart))
    nfc.begin()                          # -> (0x32, 1, 6, 7): PN532 firmware V1.6
    uid = nfc.list_target(1000)          # reader: b"\x08\x12\x34\x56", or None
    rsp = nfc.transmit(apdu)             # InDataExchange, chaining both ways
    nfc.release()

    if nfc.init_as_target(b"\x12\x34\x56", 1000):    # card: wait for a reader
        apdu = nfc.get_data()            # Pn532Error(RELEASED) once the reader lets go
        nfc.set_data(b"\x90\x00")

Every failure raises Pn532Error(code). One frame buffer (275 bytes) serves every command;
APDUs handed back are fresh bytes.
"""
from time import sleep_ms, ticks_add, ticks_diff, ticks_ms

from micropython import const

from drivers.pn532_error import (
    BAD_FRAME,
    BAD_RESPONSE,
    CARD_GONE,
    NO_ACK,
    NO_RESPONSE,
    RELEASED,
    SYNTAX_ERROR,
    TIMEOUT,
    Pn532Error,
)
from drivers.pn532_frame import (
    ACK,
    FRAME_MAX,
    KIND_ACK,
    KIND_ERROR,
    KIND_INFO,
    NACK,
    decode,
    encode,
)

# Command codes (UM0701-02 §7, Table 15)
_DIAGNOSE = const(0x00)
_GET_FIRMWARE_VERSION = const(0x02)
_GET_GENERAL_STATUS = const(0x04)
_READ_REGISTER = const(0x06)
_WRITE_REGISTER = const(0x08)
_SET_PARAMETERS = const(0x12)
_SAM_CONFIGURATION = const(0x14)
_POWER_DOWN = const(0x16)
_RF_CONFIGURATION = const(0x32)
_IN_DATA_EXCHANGE = const(0x40)
_IN_COMMUNICATE_THRU = const(0x42)
_IN_DESELECT = const(0x44)
_IN_LIST_PASSIVE_TARGET = const(0x4A)
_IN_RELEASE = const(0x52)
_IN_SELECT = const(0x54)
_IN_AUTO_POLL = const(0x60)
_TG_GET_DATA = const(0x86)
_TG_INIT_AS_TARGET = const(0x8C)
_TG_GET_TARGET_STATUS = const(0x8A)
_TG_SET_DATA = const(0x8E)
_TG_SET_META_DATA = const(0x94)

_SAM_NORMAL = const(0x01)  # §7.2.10: SAM not used
_RF_ITEM_TIMINGS = const(0x02)  # §7.3.1 CfgItem: RFU, ATR_RES timeout, non-DEP timeout
_RF_ITEM_MAX_RETRIES = const(0x05)  # MxRtyATR, MxRtyPSL, MxRtyPassiveActivation
_BRTY_106A = const(0x00)  # §7.3.5: 106 kbps ISO/IEC 14443 type A
_MI = const(0x40)  # More Information: in Tg (host -> chip) and in the status byte (chip -> host)
_STATUS_ERROR = const(0x3F)  # error code bits of a status byte
# SetParameters flags (§7.2.9): the PN532 answers RATS itself and runs the ISO-DEP PICC side
_PARAMS_PICC = const(0x30)  # fAutomaticRATS | fISO14443-4_PICC
_TG_MODE = const(0x05)  # TgInitAsTarget Mode (§7.3.14): PassiveOnly | PICCOnly
_TG_MODE_PICC = const(0x08)  # bit of the returned Mode: activated as ISO/IEC 14443-4 PICC
_SEL_RES_ISO_DEP = const(0x20)  # SAK bit 6: ISO/IEC 14443-4 compliant
_TG_PARAMS = const(37)  # Mode, MifareParams 6, FeliCaParams 18, NFCID3t 10, LEN Gt, LEN Tk

_ACK_MS = const(250)  # the chip acknowledges within a few ms (§6.2.2); slack for busy hosts
_ACK_READ = const(16)  # enough for an ACK frame with preamble and an I2C status byte
_COMMAND_MS = const(1000)  # local commands (no RF) answer at once
_RESEND_MS = const(100)  # after a NACK the last response comes straight back
_NACK_TRIES = const(2)
_SLICE_MS = const(1000)  # waiting without end is done in slices of this
CHUNK = const(262)  # most APDU bytes one InDataExchange / TgSetData carries (§7.3.8)


class Pn532:
    def __init__(self, transport):
        self._t = transport
        self._buf = bytearray(FRAME_MAX)  # command, ACK and response frames, in turn
        self._mv = memoryview(self._buf)
        self._asleep = False  # TgInitAsTarget puts the PN532 to sleep until RF wakes it
        self._picc = False  # SetParameters for PICC emulation sent
        self.chunk = CHUNK  # APDU bytes per frame; smaller values exercise MI chaining
        self.timeout_ms = 5000  # reader: how long transmit() waits for the card's answer
        self.sens_res = self.sel_res = None  # reader: the activated target's ATQA and SAK
        self.ats = b""  # reader: its ATS (TL byte first), empty if it has none
        self.initiator_command = b""  # target: the first command the reader sent (RATS)

    # -- link layer: one command, its ACK, its response (§6.2.2) ----------------------------

    def _call(self, cmd, head=b"", data=b"", timeout_ms=_COMMAND_MS):
        """Run one command; return (at, size): buf[at:at + size] holds its response data.

        The result points into the frame buffer, which the next command overwrites.
        timeout_ms None waits for the response without end.
        """
        t = self._t
        n = encode(self._buf, cmd, head, data)
        t.write(self._mv[:n])
        deadline = ticks_add(ticks_ms(), _ACK_MS)
        while True:
            left = ticks_diff(deadline, ticks_ms())
            n = t.read_frame(self._mv[:_ACK_READ], left) if left > 0 else 0
            if not n:
                raise Pn532Error(NO_ACK)
            kind = decode(self._buf, n)[0]
            if kind == KIND_ACK:
                break
            if kind == KIND_ERROR:
                raise Pn532Error(SYNTAX_ERROR)
            # anything else is the late answer to an aborted command: skip it
        if cmd == _TG_INIT_AS_TARGET:
            self._asleep = True
        return self._response(cmd, timeout_ms)

    def _response(self, cmd, timeout_ms):
        tries = 0
        while True:
            wait = _SLICE_MS if timeout_ms is None else timeout_ms
            n = self._t.read_frame(self._mv, wait)
            if not n:
                if timeout_ms is None:
                    continue
                self._abort()
                raise Pn532Error(NO_RESPONSE)
            kind, at, size = decode(self._buf, n)
            if kind == KIND_INFO:
                if size < 1 or self._buf[at] != cmd + 1:
                    raise Pn532Error(BAD_RESPONSE)
                self._asleep = False
                return at + 1, size - 1
            if kind == KIND_ERROR:
                raise Pn532Error(SYNTAX_ERROR)
            if kind == KIND_ACK:
                continue
            tries += 1  # §6.2.1.4: a NACK makes the PN532 send the same response again
            if tries > _NACK_TRIES:
                raise Pn532Error(BAD_FRAME)
            self._t.write(NACK)
            timeout_ms = _RESEND_MS

    def _abort(self):
        """§6.2.1.3: an ACK from the host aborts the command the PN532 is running."""
        if self._asleep:  # AN10449 fig. 16: asleep in TgInitAsTarget, wake it first
            self._t.wakeup()
            self._asleep = False
        self._t.write(ACK)
        sleep_ms(1)

    def _status(self, at):
        """Raise unless the status byte at buf[at] reports success; return its MI bit."""
        status = self._buf[at]
        if status & _STATUS_ERROR:
            raise Pn532Error(status & _STATUS_ERROR)
        return status & _MI

    def _chained(self, at, size, cmd, head, timeout_ms):
        """The data of the response at buf[at:at + size] (status byte first), and while its MI
        bit is set, of the parts that follow, fetched by repeating `cmd` with `head` (§7.3.8,
        §7.3.16): one fresh bytes object."""
        more = self._status(at)
        if not more:
            return bytes(self._mv[at + 1 : at + size])
        out = bytearray(self._mv[at + 1 : at + size])
        while more:
            at, size = self._call(cmd, head, b"", timeout_ms)
            more = self._status(at)
            out += self._mv[at + 1 : at + size]
        return bytes(out)

    # -- set-up -----------------------------------------------------------------------------

    def begin(self):
        """Wake the PN532 and leave low-VBat mode; return its firmware version tuple.

        AN10609 (C106): after power-up the chip is in LowVbat mode until SAMConfiguration.
        """
        self._t.wakeup()
        self._asleep = False
        self._picc = False
        self.sam_configuration()
        return self.firmware_version()

    def firmware_version(self):
        """(IC, Ver, Rev, Support): (0x32, 1, 6, 7) for a PN532 V1.6 (§7.2.2)."""
        at, size = self._call(_GET_FIRMWARE_VERSION)
        if size < 4:
            raise Pn532Error(BAD_RESPONSE)
        b = self._buf
        return b[at], b[at + 1], b[at + 2], b[at + 3]

    def sam_configuration(self, mode=_SAM_NORMAL):
        # §7.2.10: Mode, Timeout (virtual card only), IRQ: drive P70_IRQ
        self._call(_SAM_CONFIGURATION, bytes((mode, 0x00, 0x01)))

    def set_parameters(self, flags):
        self._call(_SET_PARAMETERS, bytes((flags,)))

    def rf_configuration(self, item, data):
        self._call(_RF_CONFIGURATION, bytes((item,)), data)

    def max_retries(self, atr=0xFF, psl=0x01, passive=0xFF):
        """§7.3.1 item 5: 0x00 = one try, 0xFF = retry without end (the default for passive)."""
        self.rf_configuration(_RF_ITEM_MAX_RETRIES, bytes((atr, psl, passive)))

    def timings(self, atr_res=0x0B, retry=0x0A):
        """§7.3.1 item 2: timeouts coded n -> 100 us * 2**(n-1); 0x0A = 51.2 ms (the default)."""
        self.rf_configuration(_RF_ITEM_TIMINGS, bytes((0x00, atr_res, retry)))

    # -- reader (initiator) -----------------------------------------------------------------

    def list_target(self, timeout_ms):
        """Activate one 106 kbps type A target; its UID (NFCID1) or None if none came in time.

        With the default MxRtyPassiveActivation (0xFF) the chip polls until a card answers;
        the wait ends by aborting the command (§7.3.5).
        """
        try:
            at, size = self._call(_IN_LIST_PASSIVE_TARGET, b"\x01\x00", b"", timeout_ms)
        except Pn532Error as e:
            if e.code == NO_RESPONSE:
                return None
            raise
        b = self._buf
        # NbTg, then Tg SENS_RES(2) SEL_RES NFCIDLength NFCID1 [ATS, TL first]
        if size < 1 or b[at] == 0:
            return None
        if size < 6 or size < 6 + b[at + 5]:
            raise Pn532Error(BAD_RESPONSE)
        n = b[at + 5]
        mv = self._mv
        self.sens_res = bytes(mv[at + 2 : at + 4])
        self.sel_res = b[at + 4]
        end = at + 6 + n
        self.ats = bytes(mv[end : at + size])
        return bytes(mv[at + 6 : end])

    def transmit(self, apdu, timeout_ms=None):
        """Send a command APDU to the activated target and return its response APDU.

        InDataExchange (§7.3.8) with chaining: MI in Tg while more command follows, MI in the
        status byte while more response waits.
        """
        wait = self.timeout_ms if timeout_ms is None else timeout_ms
        mv = memoryview(apdu)
        n = len(apdu)
        step = self.chunk
        i = 0
        while n - i > step:
            at, size = self._call(_IN_DATA_EXCHANGE, bytes((0x01 | _MI,)), mv[i : i + step], wait)
            self._status(at)
            i += step
        at, size = self._call(_IN_DATA_EXCHANGE, b"\x01", mv[i:], wait)
        return self._chained(at, size, _IN_DATA_EXCHANGE, b"\x01", wait)

    def release(self):
        """InRelease all targets (§7.3.11); on the target side it ends the emulation."""
        self._call(_IN_RELEASE, b"\x00")

    # -- card (target) ----------------------------------------------------------------------

    def init_as_target(self, uid3, timeout_ms):
        """Emulate an ISO/IEC 14443-4 type A card until a reader activates us (True) or the
        time runs out (False; the command is aborted).

        The PN532 fixes the first UID byte to 08h, so the reader sees 08 + uid3 (§7.3.14).
        """
        if len(uid3) != 3:
            raise ValueError("uid3 must be 3 bytes")
        if not self._picc:
            self.set_parameters(_PARAMS_PICC)
            self._picc = True
        p = bytearray(_TG_PARAMS)  # zeros: FeliCaParams, NFCID3t, no Gt, no Tk
        p[0] = _TG_MODE
        p[1] = 0x04  # SENS_RES (ATQA 0004h), LSB first
        p[2] = 0x00
        p[3:6] = uid3  # NFCID1t
        p[6] = _SEL_RES_ISO_DEP
        try:
            at, size = self._call(_TG_INIT_AS_TARGET, b"", p, timeout_ms)
        except Pn532Error as e:
            if e.code == NO_RESPONSE:
                return False
            raise
        if size < 1:
            raise Pn532Error(BAD_RESPONSE)
        # Mode (bit 3: ISO/IEC 14443-4 PICC), then the initiator's first command (RATS E0 xx)
        self.initiator_command = bytes(self._mv[at + 1 : at + size])
        return bool(self._buf[at] & _TG_MODE_PICC)

    def get_data(self, timeout_ms=None):
        """The next command APDU from the reader (TgGetData §7.3.16, MI chaining).

        Raises Pn532Error(RELEASED) when the reader released or deselected us: re-arm with
        init_as_target. timeout_ms None waits as long as the reader keeps us.
        """
        at, size = self._call(_TG_GET_DATA, b"", b"", timeout_ms)
        return self._chained(at, size, _TG_GET_DATA, b"", timeout_ms)

    def set_data(self, resp):
        """Send the response APDU: TgSetMetaData (MI) for leading parts, TgSetData (§7.3.17)."""
        mv = memoryview(resp)
        n = len(resp)
        step = self.chunk
        i = 0
        while n - i > step:
            at, size = self._call(_TG_SET_META_DATA, b"", mv[i : i + step])
            self._status(at)
            i += step
        at, size = self._call(_TG_SET_DATA, b"", mv[i:])
        self._status(at)

    def target_status(self):
        """TgGetTargetStatus (§7.3.21): (state, BRit); state 0 free, 1 activated, 2 deselected."""
        at, size = self._call(_TG_GET_TARGET_STATUS)
        if size < 2:
            raise Pn532Error(BAD_RESPONSE)
        return self._buf[at], self._buf[at + 1]


__all__ = ("Pn532", "Pn532Error", "CHUNK", "TIMEOUT", "RELEASED", "CARD_GONE", "NO_RESPONSE")
