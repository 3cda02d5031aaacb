"""The emulated board: the MicroPython unix port on a PC.

Storage is a directory on the host (UPURSE_STORE); the link is the process's stdin/stdout
(`wired`) or a pseudo-terminal speaking the PN532 HSU protocol to the simulated field
(`pn532`, UPURSE_PN532 names the pty).
"""
import os

NAME = "unix"
STORAGE = os.getenv("UPURSE_STORE") or "upurse-card"
LINK = os.getenv("UPURSE_LINK") or "wired"
PN532_PORT = os.getenv("UPURSE_PN532")
AES_BACKEND = "software (cryptolib, mbedTLS)"
P256_FIXED_BASE_TABLE = True
