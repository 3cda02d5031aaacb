"""Certificate revocation list: the CA's signed list of card identities terminals must refuse.

Layout (tags in common/proto.py), in this order only:

    BF40 CRL
      BF41 content: what the CA signs (SHA-256 over the whole BF41 TLV, ECDSA P-256)
        42   CAR: the signing CA's reference, as in the cards' certificates
        9F40 sequence number, 4 bytes: a terminal keeps the highest it has taken, refuses lower
        9F41 issue date, YYMMDD one BCD digit per byte, as in CV certificates
        9F42 revoked card identities, CARD_ID_LEN bytes each, strictly ascending
      5F37 signature: plain r || s (BSI TR-03111 5.2.1)

Sorted fixed-size identities let a terminal search the list in place, without a set on its
heap: 1000 revoked cards cost 8 kB of CRL buffer and nothing more.

    sequence, revoked = crl.verify(data, ca_public_key, b"ZZUPURSE00001")
    if card_id in revoked: ...  # `revoked` reads `data`: keep that buffer
"""
from common import tlv
from common.proto import (
    CARD_ID_LEN,
    TAG_CRL,
    TAG_CRL_CONTENT,
    TAG_CRL_ISSUED,
    TAG_CRL_REVOKED,
    TAG_CRL_SEQUENCE,
    TAG_CV_CAR,
    TAG_CV_SIGNATURE,
)
from common.signed import (
    CertificateError,
    bcd_date,
    check_authority,
    check_signature,
    field,
    fields,
    parse_date,
    signed,
)


class Revoked:
    """The revoked card identities, read in place from the CRL: `in`, `len` and iteration."""

    def __init__(self, ids):
        self._ids = ids  # memoryview, a multiple of CARD_ID_LEN bytes, ascending

    def __len__(self):
        return len(self._ids) // CARD_ID_LEN

    def _at(self, i):
        return bytes(self._ids[i * CARD_ID_LEN : (i + 1) * CARD_ID_LEN])

    def __contains__(self, card_id):
        if len(card_id) != CARD_ID_LEN:
            return False
        key = bytes(card_id)
        lo = 0
        hi = len(self)
        while lo < hi:  # binary search: the list is strictly ascending
            mid = (lo + hi) // 2
            probe = self._at(mid)
            if probe == key:
                return True
            if probe < key:
                lo = mid + 1
            else:
                hi = mid
        return False

    def __iter__(self):
        for i in range(len(self)):
            yield self._at(i)


class Crl:
    """A parsed CRL; `content` and `revoked` read the parsed buffer."""

    def __init__(self, content, signature, car, sequence, issued, revoked):
        self.content = content
        self.signature = signature
        self.car = car
        self.sequence = sequence
        self.issued = issued
        self.revoked = revoked


def content(car, sequence, issued, revoked_ids):
    """The BF41 TLV the CA signs; `revoked_ids` in any order, repeats dropped."""
    if not 0 <= sequence <= 0xFFFFFFFF:
        raise ValueError("sequence out of range")
    ids = sorted(set(bytes(i) for i in revoked_ids))
    for i in ids:
        if len(i) != CARD_ID_LEN:
            raise ValueError("card identity length")
    return tlv.encode(
        TAG_CRL_CONTENT,
        tlv.encode(TAG_CV_CAR, car)
        + tlv.uint(TAG_CRL_SEQUENCE, sequence, 4)
        + tlv.encode(TAG_CRL_ISSUED, bcd_date(issued))
        + tlv.encode(TAG_CRL_REVOKED, b"".join(ids)),
    )


def assemble(content_tlv, signature):
    """The BF40 CRL from the signed content and the CA's r || s."""
    return tlv.encode(TAG_CRL, bytes(content_tlv) + tlv.encode(TAG_CV_SIGNATURE, signature))


def parse(data):
    """A Crl, structure checked (not the signature); CertificateError when malformed."""
    signed_tlv, value, signature = signed(data, TAG_CRL, TAG_CRL_CONTENT)
    parts = fields(value)
    if len(parts) != 4:
        raise CertificateError("malformed")
    car = bytes(field(parts, 0, TAG_CV_CAR))
    sequence = field(parts, 1, TAG_CRL_SEQUENCE)
    if len(sequence) != 4:
        raise CertificateError("malformed")
    issued = parse_date(field(parts, 2, TAG_CRL_ISSUED))
    ids = field(parts, 3, TAG_CRL_REVOKED)
    if len(ids) % CARD_ID_LEN:
        raise CertificateError("malformed")
    revoked = Revoked(ids)
    previous = None
    for i in revoked:  # strictly ascending: one spelling per list, and binary search works
        if previous is not None and not previous < i:
            raise CertificateError("malformed")
        previous = i
    return Crl(signed_tlv, signature, car, int.from_bytes(bytes(sequence), "big"), issued,
               revoked)


def verify(data, ca_public_key, car=None):
    """(sequence, revoked) of a CRL the CA signed; CertificateError("signature"...) otherwise.

    `car`, when given, is the CA reference the list must name.
    """
    crl = parse(data)
    check_authority(crl.car, car)
    check_signature(ca_public_key, crl.content, crl.signature)
    return crl.sequence, crl.revoked
