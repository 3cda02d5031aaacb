"""The public-key roll's certificate checks (S3102A, S3102B), and PK UPDATE PERMISSION.

See card/pki.py for the roll and for why the code comes and goes.
"""
import os
from hashlib import sha256

from card.applet import Reject, check
from card.fields import T_CA_KEY, T_CERTIFICATE, field
from card.pki import PK_SCHEMES, TARGET
from card.transient import loaded, unload
from common import proto as P
from common.tlv import encode, need, need_uint, parse

_DATES = ("expired", "not yet valid")


def card(applet, f):
    """This card's state, refused unless its scheme has the public-key path and the date the
    terminal names is plausible for it."""
    s = applet.state
    check(s.scheme in PK_SCHEMES, P.SW_WRONG_STATE)
    date = need_uint(f, P.TAG_DATE, 4)
    check(s.dated(date), P.SW_DATE_REFUSED)
    return s, date


def peer(s, f, date):
    """(our CHR, the peer's CHR, the peer's public key) from its verified certificate (S3102A,
    S3102B): CA signature, our CA reference, role, dates; SW_DATE_REFUSED for a certificate
    outside its dates, SW_SECURITY for any other. The certificate code is gone on return;
    P-256 stays for the rest of the command."""
    keep = loaded()
    own_chr, peer_chr, key, digest, signature = _fields(s, f, date)
    unload(keep)  # the certificate code goes before P-256 comes
    from common import p256

    keep = loaded()
    # the checks cvc.check leaves to cvc.check_key: the point on the curve, the CA signature
    ok = p256.valid_public_key(key) and p256.verify(field(s, T_CA_KEY), digest, signature)
    unload(keep)  # verification's own code too
    check(ok, P.SW_SECURITY)
    return own_chr, peer_chr, key


def _fields(s, f, date):
    """The peer certificate's fields, checked (cvc.check), as plain bytes: (our CHR, its CHR,
    its public key, digest of its body, CA signature). A function of its own, so that no stale
    slot of the caller's frame keeps the certificate code alive."""
    from common import cvc

    try:
        own = cvc.parse(field(s, T_CERTIFICATE))
        cert = cvc.check(encode(P.TAG_CV_CERTIFICATE, need(f, P.TAG_CV_CERTIFICATE)), date,
                         own.car)
    except cvc.CertificateError as e:
        raise Reject(P.SW_DATE_REFUSED if e.args[0] in _DATES else P.SW_SECURITY) from None
    check(cert.card_id != s.card_id, P.SW_WRONG_DATA)
    return own.chr, cert.chr, cert.public_key, sha256(cert.body).digest(), cert.signature


def pk_update_permission(applet, p1, data):
    """S3102A: check card B's certificate, keep its key for S3103A, answer an update random."""
    applet.pk_session = None
    applet.update_random = None
    f = parse(data)
    s, date = card(applet, f)
    own_chr, peer_chr, peer_key = peer(s, f, date)
    update_random = os.urandom(P.RANDOM_LEN)
    applet.update_random = update_random
    applet.pk_session = (TARGET, update_random, own_chr, peer_chr, peer_key)
    return encode(P.TAG_UPDATE_RANDOM, update_random)
