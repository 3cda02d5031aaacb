"""PN532 over I2C (UM0701-02 §6.2.4), address 0x24, for machine.I2C or SoftI2C.

Every read the host makes starts with the PN532 status byte: bit 0 set means a frame (ACK or
response) is ready and follows. A read of the whole frame buffer takes one transaction, as the
chip's frame length is only known from its header.

    nfc = Pn532(Pn532I2c(I2C(0, freq=400_000)))
"""
from time import sleep_ms, ticks_add, ticks_diff, ticks_ms

from micropython import const

_ADDRESS = const(0x24)
_READY = const(0x01)
_POLL_MS = const(1)
_WAKE_MS = const(2)  # AN10609: the chip needs about 2 ms after its address wakes it


class Pn532I2c:
    def __init__(self, i2c, address=_ADDRESS):
        self._i2c = i2c
        self._address = address
        self._status = bytearray(1)

    def wakeup(self):
        """§6.2.4: the PN532 wakes when it sees its own address; it may NACK that one write."""
        try:
            self._i2c.writeto(self._address, b"\x00")
        except OSError:
            pass
        sleep_ms(_WAKE_MS)

    def write(self, frame):
        self._i2c.writeto(self._address, frame)

    def read_frame(self, buf, timeout_ms):
        """Poll the status byte until ready, then read len(buf) bytes: status byte + frame.

        Returns len(buf) (decode skips the status byte and what follows the frame), or 0.
        """
        deadline = ticks_add(ticks_ms(), timeout_ms)
        while True:
            try:
                self._i2c.readfrom_into(self._address, self._status)
                if self._status[0] & _READY:
                    break
            except OSError:  # the chip NACKs its address while busy
                pass
            if ticks_diff(deadline, ticks_ms()) <= 0:
                return 0
            sleep_ms(_POLL_MS)
        self._i2c.readfrom_into(self._address, buf)
        return len(buf)
