"""ESP32-DevKitC (ESP32-WROOM-32 or -WROVER): one PN532 per UART, HSU at 115200 (docs/boards.md).

UART0 is the USB serial console (the host link), so the PN532s use UART1 and UART2, routed
through the GPIO matrix to pins that are neither strapping pins (0, 2, 5, 12, 15), nor flash
(6-11), nor the WROVER's PSRAM (16, 17). Put the PN532's interface switches on HSU
(SEL0 = L, SEL1 = L). Wire PN532 TXD to the board's RX pin and RXD to its TX pin.

A card board emulates its card on CARD_PN532; a terminal board drives READERS["A"] (the
seed's read/write means 301A, the payer's side) and READERS["B"] (301B).
"""
NAME = "esp32"

# Flash: littlefs mounted at '/'; rename is atomic there, as card/store.py needs.
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
CARD_PN532 = {"bus": "uart", "id": 1, "tx": 25, "rx": 26, "baud": 115200}
READERS = {
    "A": {"bus": "uart", "id": 1, "tx": 25, "rx": 26, "baud": 115200},
    "B": {"bus": "uart", "id": 2, "tx": 32, "rx": 33, "baud": 115200},
}

# cryptolib is mbedTLS, which ESP-IDF builds on the ESP32's AES accelerator.
AES_BACKEND = "hardware (ESP32 AES accelerator through mbedTLS, cryptolib)"
# About 110 KB of MicroPython heap without PSRAM: no fixed-base table for P-256 (comb over G
# computed per use). With PSRAM (WROVER) it may be turned on.
P256_FIXED_BASE_TABLE = 0
# MPY arch of the native P-256 module for this board (upurse.natmod, docs/boards.md):
# Xtensa LX6, windowed ABI
NATMOD_ARCH = "xtensawin"
