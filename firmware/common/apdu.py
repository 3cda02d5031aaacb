"""Short command and response APDUs (ISO 7816-4 5.1); the PN532 carries no extended ones."""


class LengthError(ValueError):
    pass


def parse_command(apdu):
    """(cla, ins, p1, p2, data) of a case 1-4 short command APDU; Le is ignored."""
    n = len(apdu)
    if n < 4:
        raise LengthError("header")
    mv = memoryview(apdu)
    if n <= 5:  # case 1, or case 2 (Le only)
        return mv[0], mv[1], mv[2], mv[3], mv[4:4]
    lc = mv[4]
    if lc == 0 or n not in (5 + lc, 6 + lc):
        raise LengthError("Lc")
    return mv[0], mv[1], mv[2], mv[3], mv[5 : 5 + lc]


def command(cla, ins, p1=0, p2=0, data=b"", le=True):
    """A short command APDU; `le` adds Le=00 (up to 256 bytes expected)."""
    head = bytes((cla, ins, p1, p2))
    if data:
        if len(data) > 255:
            raise LengthError("data over 255 bytes")
        head += bytes((len(data),)) + bytes(data)
    return head + b"\x00" if le else head


def response(data, sw):
    return bytes(data) + bytes((sw >> 8, sw & 0xFF))


def split_response(resp):
    """(data, sw) of a response APDU."""
    if len(resp) < 2:
        raise LengthError("response shorter than a status word")
    return resp[:-2], (resp[-2] << 8) | resp[-1]
