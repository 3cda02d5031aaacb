"""PN532 host-link frames (NXP UM0701-02 §6.2.1): build command frames, find and check the chip's.

All work happens in caller-owned buffers; nothing here allocates but the tuple `decode` returns.

    n = encode(buf, 0x02, b"", b"")      # GetFirmwareVersion: 00 00 FF 02 FE D4 02 2A 00
    kind, at, size = decode(buf, n)      # KIND_INFO: buf[at:at + size] = response code + data
"""
from micropython import const

ACK = b"\x00\x00\xff\x00\xff\x00"  # §6.2.1.3: frame received; from the host, aborts a command
NACK = b"\x00\x00\xff\xff\x00\x00"  # §6.2.1.4: host asks the PN532 to send its last response again

TFI_HOST = const(0xD4)  # frame identifier, host -> PN532
TFI_CHIP = const(0xD5)  # frame identifier, PN532 -> host
_TFI_ERROR = const(0x7F)  # §6.2.1.5 syntax error frame: 00 00 FF 01 FF 7F 81 00

DATA_MAX = const(265)  # §6.2.1.2: TFI + command code + up to 263 parameter bytes
FRAME_MAX = const(275)  # 00 00 FF FF FF LENM LENL LCS, DATA_MAX bytes, DCS, postamble 00
_NORMAL_MAX = const(255)  # longest TFI..PDn a normal frame carries (§6.2.1.1)

KIND_BAD = const(0)  # incomplete, or a length / data checksum that does not add up
KIND_ACK = const(1)
KIND_NACK = const(2)
KIND_INFO = const(3)
KIND_ERROR = const(4)


def encode(buf, cmd, head, data):
    """Write the command frame `D4 cmd head data` into buf; return its length.

    `head` is a few leading parameter bytes (Tg, flags), `data` the bulk (an APDU), so that
    callers need not join them. Frames up to 255 data bytes are normal, longer ones extended.
    """
    size = 2 + len(head) + len(data)  # TFI + command code + parameters
    if size > DATA_MAX:
        raise ValueError("PN532 frame over 265 bytes")
    buf[0] = 0x00  # preamble
    buf[1] = 0x00  # start code
    buf[2] = 0xFF
    if size <= _NORMAL_MAX:
        buf[3] = size  # LEN
        buf[4] = -size & 0xFF  # LCS: LEN + LCS = 0 (mod 256)
        i = 5
    else:  # §6.2.1.2: LEN = LCS = FF, then LENM LENL and their checksum
        buf[3] = 0xFF
        buf[4] = 0xFF
        buf[5] = size >> 8
        buf[6] = size & 0xFF
        buf[7] = -((size >> 8) + (size & 0xFF)) & 0xFF
        i = 8
    buf[i] = TFI_HOST
    buf[i + 1] = cmd
    total = TFI_HOST + cmd
    i += 2
    for b in head:
        buf[i] = b
        total += b
        i += 1
    n = len(data)
    buf[i : i + n] = data
    for b in data:
        total += b
    i += n
    buf[i] = -total & 0xFF  # DCS: TFI + PD0..PDn + DCS = 0 (mod 256)
    buf[i + 1] = 0x00  # postamble
    return i + 2


def start(buf, n):
    """Index just past the first 00 FF start code in buf[:n] (the LEN byte), or -1."""
    for j in range(n - 1):
        if buf[j] == 0x00 and buf[j + 1] == 0xFF:
            return j + 2
    return -1


def frame_end(buf, n):
    """Bytes buf must hold for the frame begun in buf[:n] to be whole, postamble included.

    0 while the header is not in yet; -1 when its length checksum is wrong (resynchronise).
    Lets a byte-stream transport read exactly one frame and leave the next one in the UART.
    """
    i = start(buf, n)
    if i < 0 or n < i + 2:
        return 0
    a = buf[i]
    b = buf[i + 1]
    if (a == 0x00 and b == 0xFF) or (a == 0xFF and b == 0x00):  # ACK or NACK
        return i + 3
    if a == 0xFF and b == 0xFF:  # extended: LENM LENL LCS follow
        if n < i + 5:
            return 0
        size = buf[i + 2] << 8 | buf[i + 3]
        if (buf[i + 2] + buf[i + 3] + buf[i + 4]) & 0xFF or size > DATA_MAX:
            return -1
        return i + 5 + size + 2
    if (a + b) & 0xFF or a == 0:
        return -1
    return i + 2 + a + 2


def decode(buf, n):
    """(kind, at, size) of the frame in buf[:n]; for KIND_INFO buf[at:at + size] is PD0..PDn.

    Leading preamble bytes, an I2C status byte and trailing bytes are skipped.
    """
    i = start(buf, n)
    if i < 0 or n < i + 2:
        return KIND_BAD, 0, 0
    a = buf[i]
    b = buf[i + 1]
    if a == 0x00 and b == 0xFF:
        return KIND_ACK, 0, 0
    if a == 0xFF and b == 0x00:
        return KIND_NACK, 0, 0
    if a == 0xFF and b == 0xFF:
        if n < i + 5 or (buf[i + 2] + buf[i + 3] + buf[i + 4]) & 0xFF:
            return KIND_BAD, 0, 0
        size = buf[i + 2] << 8 | buf[i + 3]
        i += 5
    else:
        if (a + b) & 0xFF:
            return KIND_BAD, 0, 0
        size = a
        i += 2
    if size == 0 or n < i + size + 1:  # TFI..PDn then DCS
        return KIND_BAD, 0, 0
    total = 0
    for j in range(i, i + size + 1):
        total += buf[j]
    if total & 0xFF:
        return KIND_BAD, 0, 0
    if buf[i] == _TFI_ERROR:
        return KIND_ERROR, 0, 0
    if buf[i] != TFI_CHIP:
        return KIND_BAD, 0, 0
    return KIND_INFO, i + 1, size - 1
