"""The card on the air: APDUs from a PN532 in ISO/IEC 14443-4 card emulation, to the applet.

Runs forever. Each activation is a session: a contactless card is powered by the reader's
field, so a new activation starts with the applet's RAM session cleared, as a real card's
would be. The chip may release us at any moment (status 29h, UM0701-02 §7.3.16) or the reader
may go away; either ends the session and the card re-arms (TgInitAsTarget again). Anything
else that goes wrong is logged and the PN532 is brought up again: a card never stops.
"""
import os
from time import sleep_ms

from micropython import const

from drivers.pn532 import NO_RESPONSE, Pn532, Pn532Error
from drivers.wiring import describe, transport

_ARM_MS = const(1000)  # one TgInitAsTarget wait, then re-arm (the loop stays responsive)
_RETRY_MS = const(500)  # pause before bringing a failed chip up again
_CHIP_STATUS = const(0x40)  # Pn532Error codes below this are the chip's status byte (§7.1)
_IDLE_MS = const(5000)  # a reader silent this long: check the chip is alive and we are held
_ACTIVATED = const(1)  # TgGetTargetStatus state (§7.3.21)


def log(*words):
    print("card:", *words)


def uid3():
    """ISO/IEC 14443-3 §6.5.4: a UID starting 08h is a random ID. The PN532 fixes that first
    byte; the other three are fresh per activation, so the UID identifies nothing."""
    return os.urandom(3)


def session(nfc, applet):
    """Serve one activation until the reader lets go; the number of APDUs served."""
    applet._reset_session()  # the field was off: no session survives (S1102A randoms too)
    served = 0
    while True:
        try:
            apdu = nfc.get_data(_IDLE_MS)
            nfc.set_data(applet.process(apdu))
        except Pn532Error as e:
            if e.code == NO_RESPONSE:  # a quiet reader, or a chip that died under us
                if nfc.target_status()[0] == _ACTIVATED:  # raises if the chip is gone
                    continue
                return served
            if e.code >= _CHIP_STATUS:  # the host link failed, not the air: re-init
                raise
            if served or e.code != 0x29:
                log("session ended:", e, "after", served, "apdus")
            return served
        served += 1


def serve_pn532(applet, board):
    """Bring up the PN532 the board wires to the card, then serve activations forever."""
    desc = board.CARD_PN532
    nfc = None
    while True:
        try:
            if nfc is None:
                nfc = Pn532(transport(desc))
            ic, ver, rev, _ = nfc.begin()
            log("PN532 %x v%d.%d on %s, emulating an ISO 14443-4 card"
                % (ic, ver, rev, describe(desc)))
            while True:
                if nfc.init_as_target(uid3(), _ARM_MS):
                    session(nfc, applet)
        except Exception as e:  # noqa: BLE001 - log, wait, bring the chip up again
            log("error:", type(e).__name__, e, "- bringing the PN532 up again")
            sleep_ms(_RETRY_MS)
