"""Open a serial device or pseudo-terminal on the unix port as a raw, non-blocking byte stream.

The emulated boards reach the simulated PN532 field through a pty (host/upurse/rig/field.py):

    from drivers.tty import open_raw
    nfc = Pn532(Pn532Uart(open_raw(board.PN532_PORT)))

Raw mode with VMIN = VTIME = 0 makes `readinto` return at once with what is there (0 if
nothing), as machine.UART(timeout=0) does; select.poll does the waiting.
"""
import termios

try:
    from termios import setraw  # MicroPython unix port
except ImportError:  # CPython (the upurse.port run of the same firmware)
    from tty import setraw

_VTIME = 5  # indexes into the c_cc list (Linux termios.h)
_VMIN = 6
_CC = 6  # position of c_cc in the tcgetattr list


def open_raw(path):
    f = open(path, "r+b", buffering=0)
    fd = f.fileno()
    setraw(fd)
    attrs = termios.tcgetattr(fd)
    attrs[_CC][_VMIN] = 0
    attrs[_CC][_VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, attrs)
    return f
