"""The issuer's certification authority: its P-256 key, card certificates and revocation lists.

The CA is a CVCA in the sense of BSI TR-03110-3: a self-signed CV certificate carries its key,
and it signs each card's certificate directly (no document verifier in between). All encoding
is firmware's (`common.cvc`, `common.crl`); this module only holds the key and signs, with
`cryptography`, turning its DER ECDSA signatures into the plain r || s of BSI TR-03111 5.2.1.

    ca = create_ca(effective=20250101, expiration=20341231)
    cert = issue_card_certificate(ca, card_id, card_public_key, 20250101, 20291231)
    crl_bytes = issue_crl(ca, sequence=1, revoked_ids=[bad_card_id], date=20250301)
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from upurse.port import install

install()

from common import crl, cvc  # noqa: E402 - firmware modules, on the path after install()

DEFAULT_REFERENCE = b"ZZUPURSE00001"  # TR-03110-3 A.6.1: country ZZ, mnemonic, generation
_POINT = serialization.PublicFormat.UncompressedPoint


def _point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.X962, _POINT)


def _sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """ECDSA P-256 over SHA-256(`data`), as plain r || s (BSI TR-03111 5.2.1)."""
    r, s = decode_dss_signature(key.sign(bytes(data), ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


@dataclass(frozen=True)
class CertificateAuthority:
    """The CA key and its self-signed CVCA certificate."""

    key: ec.EllipticCurvePrivateKey
    certificate: bytes

    @property
    def reference(self) -> bytes:
        """The CA's CHR: every certificate and CRL it signs names it as CAR."""
        return cvc.parse(self.certificate).chr

    @property
    def public_key(self) -> bytes:
        """The 65-byte uncompressed point terminals verify with."""
        return _point(self.key.public_key())

    def sign(self, data: bytes) -> bytes:
        """ECDSA P-256 over SHA-256(`data`), as plain r || s."""
        return _sign(self.key, data)

    def private_pem(self, password: bytes | None = None) -> bytes:
        """The CA key as PKCS#8 PEM, encrypted when `password` is given."""
        crypt = (serialization.BestAvailableEncryption(password) if password
                 else serialization.NoEncryption())
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8, crypt)

    @classmethod
    def load(cls, pem: bytes, certificate: bytes,
             password: bytes | None = None) -> CertificateAuthority:
        """A CA from `private_pem()` output and its certificate; refuses a mismatched pair."""
        key = serialization.load_pem_private_key(pem, password)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError("the CA key must be a P-256 key")
        ca = cls(key, bytes(certificate))
        if cvc.parse(certificate).public_key != ca.public_key:
            raise ValueError("the certificate holds another key")
        return ca


def create_ca(effective: int, expiration: int, reference: bytes = DEFAULT_REFERENCE,
              key: ec.EllipticCurvePrivateKey | None = None) -> CertificateAuthority:
    """A new CA (or one for `key`) with its self-signed CVCA certificate; dates YYYYMMDD."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    body = cvc.body(reference, _point(key.public_key()), reference, effective, expiration,
                    chat=cvc.CHAT_CA, domain=True)
    return CertificateAuthority(key, cvc.certificate(body, _sign(key, body)))


def issue_card_certificate(ca: CertificateAuthority, card_id: bytes, card_public_key: bytes,
                           effective: int, expiration: int) -> bytes:
    """The CV certificate binding `card_public_key` (65-byte point) to `card_id`."""
    # Refuse to certify what is not a P-256 point: cryptography checks it is on the curve.
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), bytes(card_public_key))
    if len(card_public_key) != 65:
        raise ValueError("the card public key must be an uncompressed point")
    if expiration < effective:
        raise ValueError("expiration before effective date")
    body = cvc.body(ca.reference, card_public_key, cvc.holder(card_id), effective, expiration)
    return cvc.certificate(body, ca.sign(body))


def issue_crl(ca: CertificateAuthority, sequence: int, revoked_ids: Iterable[bytes],
              date: int) -> bytes:
    """The signed CRL number `sequence`, issued `date` (YYYYMMDD), revoking `revoked_ids`."""
    content = crl.content(ca.reference, sequence, date, revoked_ids)
    return crl.assemble(content, ca.sign(content))
