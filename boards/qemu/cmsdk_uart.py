"""A machine.UART-like driver for the MPS2's CMSDK APB UARTs (the qemu port has no machine.UART).

UART0 is the console; UART1 and UART2 carry the PN532 links (QEMU's second and third
`-serial`). The registers (ARM CMSDK APB UART): DATA, STATE (bit 0 TX full, bit 1 RX full),
CTRL (bit 0 TX enable, bit 1 RX enable), BAUDDIV. Non-blocking `readinto`, as machine.UART with
timeout=0, and `ioctl` so select.poll can wait on it.
"""
import io

from machine import mem32
from micropython import const

_BASES = (0x40004000, 0x40005000, 0x40006000, 0x40007000, 0x40009000)
_STATE = const(4)
_CTRL = const(8)
_BAUDDIV = const(16)
_TX_FULL = const(1)
_RX_FULL = const(2)
_POLL = const(3)  # MP_STREAM_POLL
_POLLIN = const(1)
_POLLOUT = const(4)


class UART(io.IOBase):
    def __init__(self, uart_id, baudrate=115200, timeout=0):
        self._data = _BASES[uart_id]
        mem32[self._data + _BAUDDIV] = 16  # QEMU ignores the rate: bytes move at once
        mem32[self._data + _CTRL] = 3

    def any(self):
        return 1 if mem32[self._data + _STATE] & _RX_FULL else 0

    def readinto(self, buf, nbytes=-1):
        """What has arrived, up to len(buf); 0 if nothing (never waits)."""
        n = len(buf) if nbytes < 0 else min(nbytes, len(buf))
        data, state = self._data, self._data + _STATE
        i = 0
        while i < n and mem32[state] & _RX_FULL:
            buf[i] = mem32[data] & 0xFF
            i += 1
        return i

    def write(self, buf):
        data, state = self._data, self._data + _STATE
        for b in buf:
            while mem32[state] & _TX_FULL:
                pass
            mem32[data] = b
        return len(buf)

    def ioctl(self, request, arg):
        if request != _POLL:
            return 0
        ready = _POLLOUT & arg
        if arg & _POLLIN and mem32[self._data + _STATE] & _RX_FULL:
            ready |= _POLLIN
        return ready
