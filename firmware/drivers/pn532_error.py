"""Pn532Error and the names of its codes, so that a log line says what went wrong.

Codes below 0x40 are the PN532's own status byte (UM0701-02 §7.1, Table 14: error code in bits
0-5); codes from 0x7F up are failures of the host link that the driver detects itself.
"""
from micropython import const

TIMEOUT = const(0x01)  # the target has not answered (reader side) / RF timeout
RELEASED = const(0x29)  # target side: the initiator released (or deselected) us
CARD_GONE = const(0x2B)  # the activated card has disappeared
SYNTAX_ERROR = const(0x7F)  # the PN532 answered with a syntax error frame (§6.2.1.5)
NO_ACK = const(0x80)  # no ACK frame after a command (chip absent, asleep or frame lost)
NO_RESPONSE = const(0x81)  # no response before the timeout; the command was aborted by ACK
BAD_FRAME = const(0x82)  # response frame still bad after NACK retries (checksums)
BAD_RESPONSE = const(0x83)  # response code is not command + 1, or too short for its command

_NAMES = {
    0x01: "timeout, the target has not answered",
    0x02: "CRC error",
    0x03: "parity error",
    0x04: "erroneous bit count in anticollision",
    0x05: "framing error",
    0x06: "abnormal bit collision in anticollision",
    0x07: "communication buffer too small",
    0x09: "RF buffer overflow",
    0x0A: "RF field not switched on in time by the counterpart",
    0x0B: "RF protocol error",
    0x0D: "overheating, antenna drivers switched off",
    0x0E: "internal buffer overflow",
    0x10: "invalid parameter",
    0x12: "DEP: command from the initiator not supported",
    0x13: "received frame does not match the protocol format",
    0x14: "MIFARE authentication error",
    0x23: "UID check byte wrong",
    0x25: "invalid device state for this operation",
    0x26: "operation not allowed in this configuration",
    0x27: "command not acceptable in the current context",
    0x29: "released by the initiator",
    0x2A: "card ID mismatch, the card was exchanged",
    0x2B: "card gone, the activated card has disappeared",
    0x2C: "NFCID3 mismatch",
    0x2D: "over-current",
    0x2E: "NAD missing in DEP frame",
    0x7F: "syntax error frame from the PN532",
    0x80: "no ACK from the PN532",
    0x81: "no response from the PN532, command aborted",
    0x82: "bad frame from the PN532 (checksum)",
    0x83: "unexpected response from the PN532",
}


def name(code):
    return _NAMES.get(code, "unknown error")


class Pn532Error(Exception):
    """A PN532 command failed; `.code` is one of the codes above. Prints `PN532 error 0x29: ...`."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code

    def __str__(self):
        return f"PN532 error 0x{self.code:02X}: {name(self.code)}"
