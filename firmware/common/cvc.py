"""Card verifiable certificates: the issuer CA's signature on a card's P-256 public key.

Layout, BSI TR-03110-3 C.1 and D.2 (ISO 7816-8 CV certificates), in this order only:

    7F21 certificate
      7F4E body: what the CA signs (SHA-256 over the whole 7F4E TLV, ECDSA P-256)
        5F29 certificate profile identifier 00
        42   CAR, certification authority reference: the CA's own CHR
        7F49 public key: 06 id-TA-ECDSA-SHA-256, [81 p, 82 a, 83 b, 84 G, 85 n,] 86 point [, 87 h]
        5F20 CHR, certificate holder reference
        7F4C CHAT: 06 id-ST, 53 role and rights (TR-03110-3 C.4.3)
        5F25 effective date, 5F24 expiration date: YYMMDD, one BCD digit per byte (D.2.1.3)
      5F37 signature: plain r || s (BSI TR-03111 5.2.1)

Card identity <-> CHR: a card's CHR is its CARD_ID_LEN-byte identity written as 16 upper-case
hexadecimal ASCII digits (identity 01 02 .. 08 <-> CHR b"0102030405060708"). TR-03110-3 A.6.1
allows 16 characters; we do not split them into country code, mnemonic and sequence number:
the identity is the issuer's own number, and hex keeps the mapping exact both ways. The CA's
CHR, and so every card's CAR, has the TR-03110 shape, e.g. b"ZZUPURSE00001" (user-assigned
country code ZZ, mnemonic UPURSE, key generation 00001).

Domain parameters are implicit (P-256) in card certificates. The self-signed CVCA certificate
carries them, as TR-03110-3 D.3.3 asks of a CVCA; they are accepted only when exactly P-256's,
so a certificate can never move a verifier onto a curve of the sender's choosing.

CHAT: id-ST, a signature terminal: cards sign their transfers. Role CVCA (C0) for the CA,
terminal (00, the end entity) for cards; both hold the "generate electronic signature" right.

    cert = cvc.verify(data, ca_public_key, 20250601, b"ZZUPURSE00001")
    cert.card_id  # CARD_ID_LEN bytes

P-256 loads only when a signature or point is checked: a card may check a certificate's fields
(`check`), drop this module, and only then load P-256 for the rest (card/pk_peer.py).
"""
from binascii import hexlify, unhexlify

from micropython import const

from common import tlv
from common.proto import (
    CARD_ID_LEN,
    TAG_CV_A,
    TAG_CV_B,
    TAG_CV_BODY,
    TAG_CV_CAR,
    TAG_CV_CERTIFICATE,
    TAG_CV_CHAT,
    TAG_CV_CHAT_BITS,
    TAG_CV_CHR,
    TAG_CV_COFACTOR,
    TAG_CV_EFFECTIVE,
    TAG_CV_EXPIRATION,
    TAG_CV_GENERATOR,
    TAG_CV_OID,
    TAG_CV_ORDER,
    TAG_CV_POINT,
    TAG_CV_PRIME,
    TAG_CV_PROFILE,
    TAG_CV_PUBLIC_KEY,
    TAG_CV_SIGNATURE,
)
from common.signed import (  # shared with common/crl.py
    CertificateError,
    bcd_date,
    check_authority,
    check_signature,
    field,
    fields,
    parse_date,
    signed,
)

# 0.4.0.127.0.7.2.2.2.2.3 id-TA-ECDSA-SHA-256 (TR-03110-3 A.6.4)
ECDSA_SHA256 = b"\x04\x00\x7f\x00\x07\x02\x02\x02\x02\x03"
# 0.4.0.127.0.7.3.1.2.3 id-ST, signature terminal (TR-03110-4 2.2.3.3)
ID_ST = b"\x04\x00\x7f\x00\x07\x03\x01\x02\x03"
CHAT_CA = const(0xC1)  # role CVCA, generate electronic signature
CHAT_CARD = const(0x01)  # role terminal, generate electronic signature
_ROLE_MASK = const(0xC0)
_ROLE_TERMINAL = const(0x00)
_POINT_LEN = const(65)
_REFERENCE_MAX = const(16)  # CAR and CHR, TR-03110-3 A.6.1

# P-256 (FIPS 186-4 D.1.2.3 / SEC 2 2.4.2) in the encoding of TR-03110-3 D.3.3.
_P256 = (
    (TAG_CV_PRIME, "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff"),
    (TAG_CV_A, "ffffffff00000001000000000000000000000000fffffffffffffffffffffffc"),
    (TAG_CV_B, "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b"),
    (TAG_CV_GENERATOR, "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
     "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"),
    (TAG_CV_ORDER, "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"),
    (TAG_CV_COFACTOR, "01"),
)


class Certificate:
    """A parsed certificate. `body` is a memoryview into the parsed buffer; the rest are copies.

    `card_id` is the holder's card identity, or None when the CHR is not one (the CA's own).
    `chat` is the CHAT role-and-rights byte, or None when the certificate has no CHAT.
    """

    def __init__(self, body, signature, car, public_key, chr, chat, effective, expiration):
        self.body = body
        self.signature = signature
        self.car = car
        self.public_key = public_key
        self.chr = chr
        self.chat = chat
        self.effective = effective
        self.expiration = expiration
        self.card_id = card_id(chr) if _is_card_chr(chr) else None


# --- card identity <-> CHR


def holder(identity):
    """The CHR of the card `identity`: 16 upper-case hex digits."""
    if len(identity) != CARD_ID_LEN:
        raise ValueError("card identity length")
    return hexlify(bytes(identity)).upper()


def _is_card_chr(chr):
    if len(chr) != 2 * CARD_ID_LEN:
        return False
    for c in chr:
        if not (0x30 <= c <= 0x39 or 0x41 <= c <= 0x46):  # 0-9 A-F: one spelling per identity
            return False
    return True


def card_id(chr):
    """The card identity a CHR names; CertificateError("holder") if it names none."""
    if not _is_card_chr(chr):
        raise CertificateError("holder")
    return unhexlify(bytes(chr))


# --- encoding (the host's CA calls these; the card and terminal only parse)


def public_key(point, domain=False):
    """The 7F49 TLV for a P-256 `point`; `domain` adds the explicit parameters (CVCA only)."""
    out = tlv.encode(TAG_CV_OID, ECDSA_SHA256)
    tail = b""
    if domain:
        for tag, value in _P256:
            if tag == TAG_CV_COFACTOR:
                tail = tlv.encode(tag, unhexlify(value))
            else:
                out += tlv.encode(tag, unhexlify(value))
    out += tlv.encode(TAG_CV_POINT, point) + tail
    return tlv.encode(TAG_CV_PUBLIC_KEY, out)


def body(car, point, chr, effective, expiration, chat=CHAT_CARD, domain=False, key=None):
    """The 7F4E TLV the CA signs. `key` replaces the 7F49 TLV built from `point` (tests only)."""
    chat_tlv = tlv.encode(TAG_CV_OID, ID_ST) + tlv.encode(TAG_CV_CHAT_BITS, bytes((chat,)))
    return tlv.encode(
        TAG_CV_BODY,
        tlv.encode(TAG_CV_PROFILE, b"\x00")
        + tlv.encode(TAG_CV_CAR, car)
        + (key if key is not None else public_key(point, domain))
        + tlv.encode(TAG_CV_CHR, chr)
        + tlv.encode(TAG_CV_CHAT, chat_tlv)
        + tlv.encode(TAG_CV_EFFECTIVE, bcd_date(effective))
        + tlv.encode(TAG_CV_EXPIRATION, bcd_date(expiration)),
    )


def certificate(body_tlv, signature):
    """The 7F21 certificate from a signed body and the CA's r || s."""
    return tlv.encode(TAG_CV_CERTIFICATE, bytes(body_tlv) + tlv.encode(TAG_CV_SIGNATURE, signature))


# --- parsing and verification


def _reference(value):
    if not 1 <= len(value) <= _REFERENCE_MAX:
        raise CertificateError("malformed")
    return bytes(value)


def _point(value):
    """The public point of a 7F49 value; refuses domain parameters other than P-256's."""
    parts = fields(value)
    if field(parts, 0, TAG_CV_OID) != ECDSA_SHA256:
        raise CertificateError("algorithm")
    point = None
    last = 0
    for tag, v in parts[1:]:
        if tag <= last:  # TR-03110-3 D.3.3 order; also refuses repeats
            raise CertificateError("malformed")
        last = tag
        if tag == TAG_CV_POINT:
            point = v
            continue
        for known, hexed in _P256:
            if known == tag:
                if v != unhexlify(hexed):
                    raise CertificateError("domain parameters")
                break
        else:
            raise CertificateError("malformed")
    if point is None or len(point) != _POINT_LEN:
        raise CertificateError("public key")
    return bytes(point)


def parse(data):
    """A Certificate, structure checked; CertificateError (a ValueError) when malformed.

    Checks the layout, profile 00, algorithm and domain parameters, not the signature, dates,
    role or point: verify() does.
    """
    signed_tlv, value, signature = signed(data, TAG_CV_CERTIFICATE, TAG_CV_BODY)
    parts = fields(value)
    if field(parts, 0, TAG_CV_PROFILE) != b"\x00":
        raise CertificateError("profile")
    car = _reference(field(parts, 1, TAG_CV_CAR))
    point = _point(field(parts, 2, TAG_CV_PUBLIC_KEY))
    chr = _reference(field(parts, 3, TAG_CV_CHR))
    i = 4
    chat = None
    if i < len(parts) and parts[i][0] == TAG_CV_CHAT:
        chat_parts = fields(parts[i][1])
        bits = field(chat_parts, 1, TAG_CV_CHAT_BITS)
        if field(chat_parts, 0, TAG_CV_OID) != ID_ST or len(chat_parts) != 2 or len(bits) != 1:
            raise CertificateError("role")
        chat = bits[0]
        i += 1
    effective = parse_date(field(parts, i, TAG_CV_EFFECTIVE))
    expiration = parse_date(field(parts, i + 1, TAG_CV_EXPIRATION))
    if len(parts) != i + 2:  # no certificate extensions (65) are defined for cards
        raise CertificateError("malformed")
    return Certificate(signed_tlv, signature, car, point, chr, chat, effective, expiration)


def check(data, date, car=None):
    """The Certificate of a card with every check of verify() but the two that need P-256:
    its point on the curve and the CA's signature. The caller must make those (`verify` does)
    before it trusts anything the certificate says."""
    cert = parse(data)
    check_authority(cert.car, car)
    if cert.chat is None or cert.chat & _ROLE_MASK != _ROLE_TERMINAL:
        raise CertificateError("role")  # a CA certificate is no card's
    if cert.card_id is None:
        raise CertificateError("holder")
    if date < cert.effective:
        raise CertificateError("not yet valid")
    if date > cert.expiration:
        raise CertificateError("expired")
    return cert


def check_key(cert, ca_public_key):
    """The checks check() leaves out: the public point is on P-256 and the CA signed the body
    (CertificateError "public key" or "signature")."""
    from common.p256 import valid_public_key

    if not valid_public_key(cert.public_key):
        raise CertificateError("public key")
    check_signature(ca_public_key, cert.body, cert.signature)


def verify(data, ca_public_key, date, car=None):
    """The Certificate of a card, checked in full against the CA; CertificateError otherwise.

    `date` is today as YYYYMMDD; `car`, when given, is the CA reference the certificate must
    name (pass it: it is how a terminal tells its CA generations apart). Cheap checks first,
    the signature last.
    """
    cert = check(data, date, car)
    check_key(cert, ca_public_key)
    return cert
