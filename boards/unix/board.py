"""The emulated board: the MicroPython unix port on a PC (docs/rig.md).

Its flash is the process's working directory (VfsPosix), or the folders the variables below
name. Its USB serial console is the process's stdin/stdout: a pseudo-terminal the rig
(host/upurse/rig/emuboard.py) holds open. Its PN532s are pseudo-terminals of the simulated
field (host/upurse/rig/field.py), named by environment variables the rig sets:

    UPURSE_LINK      card: `pn532` (the field) or `wired` (APDUs framed on the console)
    UPURSE_PN532     card: the pty of its PN532
    UPURSE_PN532_A   terminal: the pty of reader A (301A)
    UPURSE_PN532_B   terminal: the pty of reader B (301B)
    UPURSE_STORE     card: its flash folder (the issuer's cards/NAME)
    UPURSE_TERMINAL_STORE   terminal: its flash folder (CRL, CA key)
"""
import os

NAME = "unix"
STORAGE = os.getenv("UPURSE_STORE") or "upurse-card"
TERMINAL_STORAGE = os.getenv("UPURSE_TERMINAL_STORE") or "upurse-terminal"
LINK = os.getenv("UPURSE_LINK") or "wired"
PN532_PORT = os.getenv("UPURSE_PN532")
CARD_PN532 = {"bus": "pty", "path": PN532_PORT}
READERS = {
    "A": {"bus": "pty", "path": os.getenv("UPURSE_PN532_A")},
    "B": {"bus": "pty", "path": os.getenv("UPURSE_PN532_B")},
}
AES_BACKEND = "software (cryptolib, mbedTLS)"
# Teeth of P-256's fixed-base comb kept from boot (0: none). The emulated card models a 64 KB
# card, which cannot spare it; UPURSE_P256_TEETH=16 tries a roomier one.
P256_FIXED_BASE_TABLE = int(os.getenv("UPURSE_P256_TEETH") or 0)
# MPY arch of the native P-256 module for this board (upurse.natmod, docs/boards.md):
# x86-64 Linux (the emulated rig)
NATMOD_ARCH = "x64"
