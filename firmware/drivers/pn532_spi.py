"""PN532 over SPI (UM0701-02 §6.2.5): mode 0, LSB first, chip select driven by us.

Each transfer begins with a direction byte: 01 data write, 02 status read (bit 0: frame ready),
03 data read. The PN532 shifts LSB first; with `lsb_first=False` (a bus that can only do MSB
first, as on the RP2040) the bytes are bit-reversed here.

    spi = SPI(1, 1_000_000, polarity=0, phase=0, firstbit=SPI.LSB)
    nfc = Pn532(Pn532Spi(spi, Pin(cs, Pin.OUT, value=1)))  # cs: from board.py
"""
from time import sleep_ms, ticks_add, ticks_diff, ticks_ms

from micropython import const

from drivers.pn532_frame import FRAME_MAX

_DATA_WRITE = const(0x01)
_STATUS_READ = const(0x02)
_DATA_READ = const(0x03)
_READY = const(0x01)
_POLL_MS = const(1)
_WAKE_MS = const(2)  # AN10609: chip select low wakes the chip; it needs about 2 ms



def _reverse(b):
    r = 0
    for _ in range(8):
        r = r << 1 | b & 1
        b >>= 1
    return r


_REVERSED = bytes(_reverse(b) for b in range(256))


class Pn532Spi:
    def __init__(self, spi, cs, lsb_first=True):
        self._spi = spi
        self._cs = cs  # a machine.Pin (or any callable taking 0 / 1)
        self._flip = not lsb_first
        self._tx = bytearray(FRAME_MAX + 1)  # direction byte + frame
        self._one = bytearray(1)
        cs(1)

    def _byte(self, b):
        return _REVERSED[b] if self._flip else b

    def wakeup(self):
        self._cs(0)
        sleep_ms(_WAKE_MS)
        self._cs(1)

    def write(self, frame):
        n = len(frame)
        tx = self._tx
        tx[0] = self._byte(_DATA_WRITE)
        if self._flip:
            for i in range(n):
                tx[i + 1] = _REVERSED[frame[i]]
        else:
            tx[1 : n + 1] = frame
        self._cs(0)
        self._spi.write(memoryview(tx)[: n + 1])
        self._cs(1)

    def _ready(self):
        one = self._one
        self._cs(0)
        one[0] = self._byte(_STATUS_READ)
        self._spi.write(one)
        self._spi.readinto(one)
        self._cs(1)
        return self._byte(one[0]) & _READY

    def read_frame(self, buf, timeout_ms):
        """Poll the status until ready, then read len(buf) bytes; returns len(buf) or 0."""
        deadline = ticks_add(ticks_ms(), timeout_ms)
        while not self._ready():
            if ticks_diff(deadline, ticks_ms()) <= 0:
                return 0
            sleep_ms(_POLL_MS)
        one = self._one
        one[0] = self._byte(_DATA_READ)
        self._cs(0)
        self._spi.write(one)
        self._spi.readinto(buf)
        self._cs(1)
        if self._flip:
            for i in range(len(buf)):
                buf[i] = _REVERSED[buf[i]]
        return len(buf)
