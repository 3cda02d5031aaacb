"""What each status word means, in words a person can act on (terminal errors, host CLI)."""
from common import proto as P

TEXT = {
    P.SW_OK: "success",
    P.SW_RECORD_DAMAGED: "the card's stored record is damaged or was edited; the card refuses "
                         "to operate",
    P.SW_WRONG_LENGTH: "wrong length",
    P.SW_SECURITY: "security status not satisfied (authentication failed)",
    P.SW_DATE_REFUSED: "transaction date past the term of validity or before the issuer's date",
    P.SW_WRONG_STATE: "conditions of use not satisfied (wrong state or order)",
    P.SW_PENDING: "a pending transfer must be resolved first",
    P.SW_WRONG_DATA: "wrong data",
    P.SW_FILE_NOT_FOUND: "application not found",
    P.SW_VALUE_LIMIT: "amount above the value balance or above the maximum balance",
    P.SW_WRONG_P1P2: "wrong P1/P2",
    P.SW_NOT_FOUND: "referenced data not found",
    P.SW_KEY_ID_REFUSED: "key ID not newer than the card's, or above its upper limit",
    P.SW_INS_UNKNOWN: "instruction not supported",
    P.SW_CLA_UNKNOWN: "class not supported",
    P.SW_UNKNOWN: "unexpected error in the card",
}


def describe(sw):
    return "%s (%04X)" % (TEXT.get(sw, "unknown status"), sw)
