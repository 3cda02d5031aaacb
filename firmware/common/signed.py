"""What the CA signs, certificates (common/cvc.py) and CRLs (common/crl.py) alike.

Both are `outer { inner {...} 5F37 r||s }` (BSI TR-03110-3 C.1; TR-03111 5.2.1 plain r || s)
with the inner fields in a fixed order, dates as YYMMDD unpacked BCD (TR-03110-3 D.2.1.3), and
one error type, whose args[0] names the check that failed.

    inner, value, signature = signed(data, TAG_CRL, TAG_CRL_CONTENT)
    parts = fields(value)
    car = field(parts, 0, TAG_CV_CAR)
    check_signature(ca_public_key, inner, signature)
"""
import hashlib

from micropython import const

from common import tlv
from common.proto import TAG_CV_SIGNATURE

_SIGNATURE_LEN = const(64)


class CertificateError(ValueError):
    """A certificate (or CRL) was refused; args[0] names the check: "signature", "expired"..."""


def fields(data):
    """The TLVs of `data`, as a list of (tag, value); CertificateError("malformed") if broken."""
    try:
        return list(tlv.items(data))
    except ValueError:
        raise CertificateError("malformed") from None


def field(parts, i, tag):
    """The value of parts[i], which must be there and carry `tag`; else "malformed"."""
    if i >= len(parts) or parts[i][0] != tag:
        raise CertificateError("malformed")
    return parts[i][1]


def signed(data, outer, inner):
    """Split `data` = outer { inner {...} 5F37 r||s } into (inner TLV, inner value, signature).

    The inner TLV is returned as the exact bytes received: the signature covers them.
    """
    parts = fields(data)
    if len(parts) != 1 or parts[0][0] != outer:
        raise CertificateError("malformed")
    value = parts[0][1]
    parts = fields(value)
    if (len(parts) != 2 or parts[0][0] != inner or parts[1][0] != TAG_CV_SIGNATURE
            or len(parts[1][1]) != _SIGNATURE_LEN):
        raise CertificateError("malformed")
    head = 2 if inner > 0xFF else 1
    n = value[head]
    head += 1 + (n & 0x7F if n & 0x80 else 0)  # tlv.items has checked the length field
    return value[: head + len(parts[0][1])], parts[0][1], bytes(parts[1][1])


def check_signature(ca_public_key, signed_tlv, signature):
    """CertificateError("signature") unless the CA signed `signed_tlv` (ECDSA P-256, SHA-256)."""
    from common import p256  # on first use: parsing needs none of it

    if not p256.verify(ca_public_key, hashlib.sha256(signed_tlv).digest(), signature):
        raise CertificateError("signature")


def check_authority(found, car):
    """CertificateError("authority") unless `car` is None or the CA reference `found`."""
    if car is not None and found != bytes(car):
        raise CertificateError("authority")


# --- dates: YYYYMMDD ints <-> 6 unpacked BCD digits YYMMDD (TR-03110-3 D.2.1.3)


def bcd_date(yyyymmdd):
    year, md = divmod(yyyymmdd, 10000)
    month, day = divmod(md, 100)
    if not (2000 <= year <= 2099 and 1 <= month <= 12 and 1 <= day <= 31):
        raise ValueError("date out of range")
    year -= 2000
    return bytes((year // 10, year % 10, month // 10, month % 10, day // 10, day % 10))


def parse_date(value):
    """YYYYMMDD from 6 BCD digits; CertificateError("malformed") if they are not a date."""
    if len(value) != 6:
        raise CertificateError("malformed")
    n = 0
    for d in value:
        if d > 9:
            raise CertificateError("malformed")
        n = n * 10 + d
    month, day = n // 100 % 100, n % 100
    if not (1 <= month <= 12 and 1 <= day <= 31):
        raise CertificateError("malformed")
    return 20000000 + n
