"""Raspberry Pi Pico (RP2040): one PN532 per UART, HSU at 115200 (docs/boards.md).

The USB serial console is the RP2040's USB CDC, so both hardware UARTs are free:
UART0 on GP0 (TX) / GP1 (RX) and UART1 on GP4 (TX) / GP5 (RX). Put the PN532's interface
switches on HSU (SEL0 = L, SEL1 = L). Wire PN532 TXD to the board's RX pin and RXD to its TX.

A card board emulates its card on CARD_PN532; a terminal board drives READERS["A"] (the
seed's read/write means 301A, the payer's side) and READERS["B"] (301B).
"""
NAME = "rp2040"

# Flash: littlefs2 mounted at '/' (about 1.4 MB on a Pico); rename is atomic there.
STORAGE = "/upurse-card"
TERMINAL_STORAGE = "/upurse-terminal"


def _link():
    """`pn532` unless the flash holds /upurse-link saying `wired` (a bench without NFC)."""
    try:
        with open("/upurse-link") as f:
            return f.read().strip() or "pn532"
    except OSError:
        return "pn532"


LINK = _link()
CARD_PN532 = {"bus": "uart", "id": 0, "tx": 0, "rx": 1, "baud": 115200}
READERS = {
    "A": {"bus": "uart", "id": 0, "tx": 0, "rx": 1, "baud": 115200},
    "B": {"bus": "uart", "id": 1, "tx": 4, "rx": 5, "baud": 115200},
}

# The RP2040 has no AES hardware: cryptolib runs mbedTLS's software AES. The stock RPI_PICO
# firmware may lack cryptolib (it comes with MICROPY_PY_SSL); the frozen build
# (manifest.py, docs/boards.md) is made with it.
AES_BACKEND = "software (mbedTLS, cryptolib)"
# 264 KB SRAM, about 190 KB of heap: room for a 16-tooth fixed-base comb (about 12 KB on a
# 32-bit port) that makes P-256 signing about twice as fast (teeth, 0: none).
P256_FIXED_BASE_TABLE = 16
# MPY arch of the native P-256 module for this board (upurse.natmod, docs/boards.md):
# Cortex-M0+
NATMOD_ARCH = "armv6m"
