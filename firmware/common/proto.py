"""Protocol constants: the one home of every AID, CLA, INS, status word and TLV tag.

docs/protocol.md lists the same values; tests/test_protocol_doc.py checks that the two agree.
"""
from micropython import const

AID = b"\xf0upurse\x01"  # proprietary RID F0 + "upurse" + version 1

# Classes
CLA_ISO = const(0x00)
CLA_PROPRIETARY = const(0x80)

# Instructions (seed step in the comment)
INS_SELECT = const(0xA4)  # S1001 (+S1002, S1004 merged into the response)
INS_GET_CARD_INFO = const(0xCA)  # S1002 / S1101
INS_KEY_UPDATE_PERMISSION = const(0x50)  # S1004 / S1102A
INS_KEY_OBTAIN = const(0x52)  # S1005 / S1102B
INS_KEY_UPDATE = const(0x54)  # S1006 / S1103A, S1104A
INS_VALUE_TX_PERMISSION = const(0x60)  # S2001 / S2101A, S2102A
INS_VALUE_RX_PERMISSION = const(0x62)  # S2002 / S2101B..S2103B
INS_VALUE_TX = const(0x64)  # S2003 / S2103A..S2105A
INS_VALUE_RX = const(0x66)  # S2004 / S2104B, S2105B
INS_VALUE_TX_CONFIRM = const(0x68)  # payer clears its pending record on the payee's credit proof
INS_PENDING_RESOLVE = const(0x6A)  # payer answers a payee's pending record: complete or undo
INS_VALUE_RX_ABORT = const(0x6C)  # payee drops its tentative credit on the payer's abort proof
INS_GET_BALANCE = const(0x5C)
INS_GET_LOG = const(0x5E)
INS_GET_PENDING = const(0x6E)
INS_INITIALIZE = const(0xE0)  # blank -> personalization: card identity + personalization key
INS_PERSONALIZE = const(0xE2)  # secured: load keys, IDs, limits, validity, purses
INS_LOCK = const(0xE4)  # secured: personalization -> active, for good
# Key-update embodiments 2-5 (docs/pki.md; handlers in card/keys.py and card/pki.py)
INS_GET_KEY_INFO = const(0x70)  # S3002 / S3101A: certificate, key limits, pre-loaded key IDs
INS_PK_UPDATE_PERMISSION = const(0x72)  # S3004 / S3102A: peer certificate in, update random out
INS_PK_KEY_OBTAIN = const(0x74)  # S3005 / S3102B, S3103B: keys sealed to the peer, signed
INS_PK_KEY_UPDATE = const(0x76)  # S3006 / S3103A..S3105A: verify, open, check IDs, install
INS_PK_KEY_CONFIRM = const(0x78)  # source checks the target's receipt (SCP11 key confirmation)
INS_KEY_ACTIVATION_OBTAIN = const(0x56)  # S6005 / S6102B: new active ID under the update key
INS_KEY_ACTIVATE = const(0x58)  # S6006 / S6103A, S6104A: activate a pre-loaded transfer key
INS_GENERATE_KEY = const(0xE6)  # secured: the card makes its P-256 key pair, returns the public
INS_ISSUER_RESOLVE = const(0x7C)  # the issuer's MACed verdict settles a pending record

# Status words
SW_OK = const(0x9000)
SW_RECORD_DAMAGED = const(0x6581)  # memory failure: the stored state record fails its MAC
SW_WRONG_LENGTH = const(0x6700)
SW_SECURITY = const(0x6982)  # MAC, wrapped key or proof did not verify
SW_DATE_REFUSED = const(0x6984)  # transaction date past validity or before the issuer's date
SW_WRONG_STATE = const(0x6985)  # life cycle or command order does not allow it
SW_PENDING = const(0x6986)  # a pending transfer must be resolved first
SW_WRONG_DATA = const(0x6A80)
SW_FILE_NOT_FOUND = const(0x6A82)  # SELECT of an AID this card does not hold
SW_VALUE_LIMIT = const(0x6A84)  # amount above balance, or balance above its maximum
SW_WRONG_P1P2 = const(0x6A86)
SW_NOT_FOUND = const(0x6A88)  # referenced key ID, record or purse not held
SW_KEY_ID_REFUSED = const(0x6A8A)  # key ID not newer, or above its upper limit
SW_INS_UNKNOWN = const(0x6D00)
SW_CLA_UNKNOWN = const(0x6E00)
SW_UNKNOWN = const(0x6F00)

# Life cycle states
STATE_BLANK = const(0)
STATE_PERSONALIZATION = const(1)
STATE_ACTIVE = const(2)

# Key-update schemes, one per seed embodiment
SCHEME_SYMMETRIC = const(1)
SCHEME_PKI = const(2)
SCHEME_HYBRID = const(3)
SCHEME_PRELOADED = const(4)
SCHEME_HYBRID_UPDATE = const(5)

# Purses
PURSE_MONEY = const(1)
PURSE_POINTS = const(2)

# TLV tags: 80-9E context class, primitive; D0-D1 private class, primitive
TAG_CARD_ID = const(0x80)
TAG_TRANSFER_KEY_ID = const(0x81)
TAG_UPDATE_KEY_ID = const(0x82)
TAG_VALIDITY = const(0x83)
TAG_UPDATE_RANDOM = const(0x84)
TAG_PURSE = const(0x85)
TAG_AMOUNT = const(0x86)
TAG_DATE = const(0x87)
TAG_TX_RANDOM = const(0x88)
TAG_RX_RANDOM = const(0x89)
TAG_TX_CHALLENGE = const(0x8A)
TAG_RX_CHALLENGE = const(0x8B)
TAG_WRAPPED_KEY = const(0x8C)
TAG_BALANCE = const(0x8D)
TAG_MAX_BALANCE = const(0x8E)
TAG_COUNTER = const(0x8F)
TAG_TRANSFER_KEY_LIMIT = const(0x90)
TAG_UPDATE_KEY_LIMIT = const(0x91)
TAG_TRANSFER_KEY = const(0x92)
TAG_UPDATE_KEY = const(0x93)
TAG_STATE = const(0x94)
TAG_SCHEME = const(0x95)
TAG_PENDING = const(0x96)
TAG_CREDIT_PROOF = const(0x97)
TAG_ABORT_PROOF = const(0x98)
TAG_PEER_ID = const(0x99)
TAG_PERSO_KEY = const(0x9A)
TAG_MAC = const(0x9B)
TAG_PEER_COUNTER = const(0x9C)
TAG_LAST_DATE = const(0x9E)
TAG_CONTEXT = const(0xD0)  # a packed transfer context (common.transfer)
TAG_PERSO_COUNTER = const(0xD1)
TAG_VERDICT = const(0xDD)  # ISSUER RESOLVE: VERDICT_*
TAG_NOT_BEFORE = const(0xDC)  # the card refuses earlier dates: the issuer's, never a terminal's
# context class, constructed bit set; A1 and A2 in the state record, and A3 everywhere, hold
# packed bytes, not nested TLVs (docs/protocol.md section 4)
TAG_PURSE_RECORD = const(0xA0)
TAG_PENDING_OUT = const(0xA1)
TAG_PENDING_IN = const(0xA2)
TAG_LOG_ENTRY = const(0xA3)
TAG_PRELOADED_KEY = const(0xA4)

# Pending flags in TAG_PENDING
PENDING_OUT = const(1)
PENDING_IN = const(2)

# The issuer's verdicts on a pending record (ISSUER RESOLVE)
VERDICT_CREDIT = const(1)  # pending incoming: the payer debited, credit it
VERDICT_ABORT = const(2)  # pending incoming: the payer never debited, drop it
VERDICT_CREDITED = const(3)  # pending outgoing: the payee credited, drop it
VERDICT_REFUND = const(4)  # pending outgoing: the payee never credits, refund it

# Log entry directions
LOG_OUT = const(1)
LOG_IN = const(2)

# Sizes
CARD_ID_LEN = const(8)
KEY_LEN = const(16)
RANDOM_LEN = const(16)
MAC_LEN = const(16)
WRAPPED_KEY_LEN = const(24)
LOG_SIZE = const(8)

# Public-key infrastructure (added with common/cvc.py and common/crl.py).
# CV certificate tags, BSI TR-03110-3 D.2 (ISO 7816-6 interindustry / application class).
TAG_CV_CERTIFICATE = const(0x7F21)
TAG_CV_BODY = const(0x7F4E)  # the signed part
TAG_CV_PROFILE = const(0x5F29)  # certificate profile identifier, 00
TAG_CV_CAR = const(0x42)  # certification authority reference
TAG_CV_PUBLIC_KEY = const(0x7F49)
TAG_CV_OID = const(0x06)
TAG_CV_CHR = const(0x5F20)  # certificate holder reference
TAG_CV_CHAT = const(0x7F4C)  # certificate holder authorization template: 06 OID, 53 bits
TAG_CV_CHAT_BITS = const(0x53)
TAG_CV_EFFECTIVE = const(0x5F25)  # YYMMDD, one BCD digit per byte
TAG_CV_EXPIRATION = const(0x5F24)
TAG_CV_SIGNATURE = const(0x5F37)  # ECDSA plain r || s (BSI TR-03111 5.2.1)
# Inside TAG_CV_PUBLIC_KEY only (TR-03110-3 D.3.3): context tags of that template.
TAG_CV_PRIME = const(0x81)
TAG_CV_A = const(0x82)
TAG_CV_B = const(0x83)
TAG_CV_GENERATOR = const(0x84)
TAG_CV_ORDER = const(0x85)
TAG_CV_POINT = const(0x86)  # public point, uncompressed
TAG_CV_COFACTOR = const(0x87)
# Certificate revocation list (common/crl.py): two-byte context tags, clear of the one-byte ones.
TAG_CRL = const(0xBF40)  # TAG_CRL_CONTENT + TAG_CV_SIGNATURE
TAG_CRL_CONTENT = const(0xBF41)  # the signed part: TAG_CV_CAR, sequence, issued, revoked
TAG_CRL_SEQUENCE = const(0x9F40)  # 4-byte unsigned, grows with each list the CA issues
TAG_CRL_ISSUED = const(0x9F41)  # YYMMDD, one BCD digit per byte, as TAG_CV_EFFECTIVE
TAG_CRL_REVOKED = const(0x9F42)  # card identities, CARD_ID_LEN bytes each, strictly ascending
