"""The QEMU board: MicroPython on an emulated ARM MPS2-AN386 (Cortex-M4), docs/boards.md.

The way to try the firmware on a 32-bit microcontroller port without hardware. Its flash is
littlefs on 4 KiB blocks kept in a host file (flash.py), so a card keeps its state across
reboots and power cuts. Its console is UART0; its PN532s are on the CMSDK UARTs 1 and 2
(QEMU's second and third `-serial`), which the rig joins to the simulated field
(host/upurse/rig/). The host names the boot's options (qemuboot.py).
"""
from qemuboot import OPTIONS

NAME = "qemu"
STORAGE = "/upurse-card"
TERMINAL_STORAGE = "/upurse-terminal"
LINK = OPTIONS.get("link", "pn532")
CARD_PN532 = {"bus": "cmsdk", "id": 1}
READERS = {"A": {"bus": "cmsdk", "id": 1}, "B": {"bus": "cmsdk", "id": 2}}

# A Raspberry Pi Pico's littlefs: 1408 KiB in 352 blocks of 4 KiB
FLASH_BLOCKS = 352
# The heap a card board gets (the host boots it with heap=CARD_HEAP): a small card MCU's
CARD_HEAP = 64 * 1024
TERMINAL_HEAP = 192 * 1024
AES_BACKEND = "software (cryptolib, axTLS AES)"
P256_FIXED_BASE_TABLE = 0  # no comb kept: the card heap is 64 KB
# MPY arch of the native P-256 module for this board (upurse.natmod, docs/boards.md): the image
# is a soft-float Cortex-M4 (armv7em), which loads armv7m modules
NATMOD_ARCH = "armv7m"
