"""Build a PN532 link from a board description: the one place a bus is made from its numbers.

A board (boards/<name>/board.py) describes each PN532 it wires as a dict; the firmware never
names a pin itself:

    {"bus": "uart", "id": 1, "tx": ..., "rx": ..., "baud": 115200}   # HSU (§6.2.3)
    {"bus": "i2c", "id": 0, "scl": ..., "sda": ..., "freq": 400000}   # §6.2.4
    {"bus": "spi", "id": 1, "sck": ..., "mosi": ..., "miso": ..., "cs": ..., "baud": 1000000}
    {"bus": "pty", "path": "/dev/pts/5"}   # unix port: a pseudo-terminal of the simulated field
    {"bus": "cmsdk", "id": 1}   # QEMU board: a CMSDK UART (boards/qemu/cmsdk_uart.py)

    nfc = Pn532(transport(board.CARD_PN532))
"""
from micropython import const

_BAUD = const(115200)  # the PN532's HSU speed after power-up
_RXBUF = const(600)  # two whole extended frames (275 bytes each): the chip may answer at once


def transport(desc):
    """The Pn532 transport for one description; ValueError names an unknown bus."""
    bus = desc["bus"]
    if bus == "pty":
        from drivers.pn532_uart import Pn532Uart
        from drivers.tty import open_raw

        return Pn532Uart(open_raw(desc["path"]))
    if bus == "cmsdk":
        from cmsdk_uart import UART

        from drivers.pn532_uart import Pn532Uart

        return Pn532Uart(UART(desc["id"]))
    from machine import Pin

    if bus == "uart":
        from machine import UART

        from drivers.pn532_uart import Pn532Uart

        uart = UART(desc["id"], desc.get("baud", _BAUD), tx=Pin(desc["tx"]), rx=Pin(desc["rx"]),
                    timeout=0, rxbuf=_RXBUF)
        return Pn532Uart(uart)
    if bus == "i2c":
        from machine import I2C

        from drivers.pn532_i2c import Pn532I2c

        i2c = I2C(desc["id"], scl=Pin(desc["scl"]), sda=Pin(desc["sda"]),
                  freq=desc.get("freq", 400000))
        return Pn532I2c(i2c)
    if bus == "spi":
        from machine import SPI

        from drivers.pn532_spi import Pn532Spi

        lsb = desc.get("lsb_first", True)  # the RP2040's SPI shifts MSB first only
        spi = SPI(desc["id"], desc.get("baud", 1000000), polarity=0, phase=0,
                  sck=Pin(desc["sck"]), mosi=Pin(desc["mosi"]), miso=Pin(desc["miso"]),
                  **({"firstbit": SPI.LSB} if lsb else {}))
        return Pn532Spi(spi, Pin(desc["cs"], Pin.OUT, value=1), lsb_first=lsb)
    raise ValueError("unknown PN532 bus %r" % bus)


def describe(desc):
    """One line for logs: `uart 1` or `pty /dev/pts/5`."""
    return "%s %s" % (desc["bus"], desc.get("path", desc.get("id", "")))
