"""BER-TLV (ISO 7816-4 annex / X.690 subset): 1- and 2-byte tags, lengths up to 65535.

Parsing returns memoryview slices of the input, so a command is never copied.
"""


class TlvError(ValueError):
    pass


def encode(tag, value):
    """One TLV; `value` is bytes-like."""
    n = len(value)
    if n < 0x80:
        head = bytes((n,))
    elif n < 0x100:
        head = bytes((0x81, n))
    else:
        head = bytes((0x82, n >> 8, n & 0xFF))
    t = bytes((tag >> 8, tag & 0xFF)) if tag > 0xFF else bytes((tag,))
    return t + head + bytes(value)


def uint(tag, value, size):
    """An unsigned big-endian integer of `size` bytes as one TLV."""
    return encode(tag, value.to_bytes(size, "big"))


def items(data):
    """Yield (tag, value) for each TLV in `data`, in order."""
    mv = memoryview(data)
    i = 0
    end = len(mv)
    while i < end:
        tag = mv[i]
        i += 1
        if tag & 0x1F == 0x1F:
            if i >= end:
                raise TlvError("truncated tag")
            tag = (tag << 8) | mv[i]
            i += 1
        if i >= end:
            raise TlvError("missing length")
        n = mv[i]
        i += 1
        if n & 0x80:
            size = n & 0x7F
            if size not in (1, 2) or i + size > end:
                raise TlvError("bad length")
            n = int.from_bytes(bytes(mv[i : i + size]), "big")
            i += size
        if i + n > end:
            raise TlvError("value runs past the end")
        yield tag, mv[i : i + n]
        i += n


def parse(data):
    """A dict tag -> value for TLVs whose tags do not repeat; repeats are an error."""
    out = {}
    for tag, value in items(data):
        if tag in out:
            raise TlvError("repeated tag")
        out[tag] = value
    return out


def need(fields, tag, size=None):
    """The value of `tag`, checked present and (when given) of exactly `size` bytes."""
    value = fields.get(tag)
    if value is None or (size is not None and len(value) != size):
        raise TlvError("missing or wrong-sized field")
    return value


def need_uint(fields, tag, size):
    return int.from_bytes(bytes(need(fields, tag, size)), "big")
