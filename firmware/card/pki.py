"""Card side of the public-key key roll (seed Fig. 7, 11, 18; construction in docs/pki.md).

Card A (the target, older transfer key) and card B (the source) each run:

    A  PK UPDATE PERMISSION  S3102A  verify B's certificate; a fresh update random
    B  PK KEY OBTAIN         S3102B  verify A's certificate; keys sealed to A's key
                             S3103B  signed together with A's update random
    A  PK KEY UPDATE         S3103A  verify B's signature; S3104A open; S3105A check IDs,
                                     install; answer a receipt
    B  PK KEY CONFIRM                check A's receipt (key confirmation)

Each card checks a peer certificate against the CA public key 101, its own CA reference and
the transaction date the terminal names, which must lie between the card's last transaction
date and its term of validity (a card has no clock). The session (`applet.pk_session`: the
peer's CHR and key on the target, the expected receipt on the source) is these modules' own
attribute of the applet; the target's is bound to the update random, which SELECT renews.

This module is only the table: each command's code (card/pk_peer.py, pk_seal.py, pk_open.py)
loads when the command runs, with P-256, the certificate code and the KDF, and is forgotten
when it returns, this module included (card/transient.py). A certificate is checked in two
steps, its fields with the certificate code and then its key and CA signature with P-256, each
gone before the next step loads, and the target's crypto code is gone before it saves. So a
card stays within a 64 KB heap through the roll even on the unix port, where bytecode lives in
the heap, and the fast path after it is as light as before (docs/pki.md).
"""
from micropython import const

from card.transient import transient
from common import proto as P

PK_SCHEMES = (P.SCHEME_PKI, P.SCHEME_HYBRID, P.SCHEME_HYBRID_UPDATE)
TARGET = const(1)  # pk_session[0] on card A
SOURCE = const(2)  # pk_session[0] on card B

HANDLERS = transient(__name__, {
    P.INS_PK_UPDATE_PERMISSION: "pk_peer.pk_update_permission",
    P.INS_PK_KEY_OBTAIN: "pk_seal.pk_key_obtain",
    P.INS_PK_KEY_UPDATE: "pk_open.pk_key_update",
    P.INS_PK_KEY_CONFIRM: "pk_seal.pk_key_confirm",
})
