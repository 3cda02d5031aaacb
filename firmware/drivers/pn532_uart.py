"""PN532 over its High Speed UART (HSU, UM0701-02 §6.2.3), 115200 8N1.

Wraps any stream with `write` and non-blocking `readinto` that `select.poll` can watch:
machine.UART on a board (give it `timeout=0`), or on the unix port a pseudo-terminal opened
with drivers.tty.open_raw.

    nfc = Pn532(Pn532Uart(UART(1, 115200, timeout=0)))
"""
import select
from time import ticks_add, ticks_diff, ticks_ms

from micropython import const

from drivers.pn532_frame import frame_end, start

# HSU wake-up (AN10609 §C106 "HSU wake up"): 55 55, then a long preamble while the chip starts
_WAKEUP = b"\x55\x55" + bytes(14)
_SCRATCH = const(32)


class Pn532Uart:
    def __init__(self, stream, poller=None):
        self._s = stream
        if poller is None:  # anything with poll(timeout_ms) that waits for input
            poller = select.poll()
            poller.register(stream, select.POLLIN)
        self._poll = poller
        self._drain = bytearray(_SCRATCH)

    def wakeup(self):
        """Drop stale input, then wake the chip from power-down / LowVbat."""
        while self._s.readinto(self._drain):
            pass
        self.write(_WAKEUP)

    def write(self, frame):
        mv = memoryview(frame)
        i = 0
        while i < len(mv):
            n = self._s.write(mv[i:])
            if not n:  # machine.UART gave up (timeout): the frame is lost, no ACK will come
                return
            i += n

    def read_frame(self, buf, timeout_ms):
        """Read one frame into buf (preamble kept); its length, or 0 if none came in time.

        Reads a byte at a time until the header gives the length, then the rest at once, so
        the next frame (the response after an ACK) stays in the UART.
        """
        s = self._s
        mv = memoryview(buf)
        cap = len(buf)
        deadline = ticks_add(ticks_ms(), timeout_ms)
        n = 0
        end = 0
        while end <= 0 or n < end:
            want = end - n if end > 0 else 1
            if n + want > cap:
                return n  # longer than the caller's buffer: decode reports it bad
            k = s.readinto(mv[n : n + want])
            if not k:
                left = ticks_diff(deadline, ticks_ms())
                if left <= 0:
                    # a frame whose postamble never came is still whole
                    return n if end > 0 and n >= end - 1 else 0
                self._poll.poll(left)
                continue
            n += k
            if end <= 0:
                end = frame_end(buf, n)
                if end < 0:  # corrupt header: resynchronise on the next start code
                    n = 0
                    end = 0
                elif end == 0 and n > 2 and start(buf, n) < 0:
                    buf[0] = buf[n - 1]  # keep only a possible first start code byte
                    n = 1
        return n
