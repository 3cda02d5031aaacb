"""Cards on PC/SC readers as `transmit(bytes) -> bytes` channels, for the settlement program on
the host (`--rig pcsc`): any reader pcscd serves, vsmartcard's virtual ones of `upurse rig pcsc
up` or a USB reader such as an ACR122U. A card is found by the card ID its SELECT answers, so
which reader holds which card does not matter.

    readers = PcscReaders(issuer)
    with readers.open("a") as channel:
        channel.transmit(apdu)

A running `upurse rig pcsc up` of the issuer folder is used unless PCSCLITE_CSOCK_NAME already
names a pcscd; with neither, the system's pcscd.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from terminal.cardlink import CardLink, SettlementError  # noqa: E402  (port installed)
from upurse.cardproc import LinkError
from upurse.issuer import Issuer
from upurse.protocol import proto
from upurse.rig import control
from upurse.rig.control import RigError

SOCKET_ENV = "PCSCLITE_CSOCK_NAME"  # libpcsclite's override of /run/pcscd/pcscd.comm
GET_RESPONSE = 0xC0
MORE_DATA, WRONG_LE = 0x61, 0x6C  # T=0 readers: fetch the rest / send again with this Le


def use_rig(issuer: Issuer) -> dict | None:
    """Point libpcsclite at the issuer folder's PC/SC rig, if one runs (before the first PC/SC
    call: the library reads the variable once)."""
    from upurse.pcsc.daemon import STATE

    state = control.running(issuer.root, STATE)
    if state is not None:
        os.environ.setdefault(SOCKET_ENV, state["pcsclite_socket"])
    return state


class PcscCard:
    """The card in one PC/SC reader, connected (pyscard)."""

    def __init__(self, reader, connection) -> None:
        self.reader, self.connection = str(reader), connection

    def transmit(self, apdu: bytes) -> bytes:
        from smartcard.Exceptions import CardConnectionException

        try:
            data, sw1, sw2 = self.connection.transmit(list(apdu))
            if sw1 == WRONG_LE:
                data, sw1, sw2 = self.connection.transmit(list(apdu[:-1]) + [sw2])
            while sw1 == MORE_DATA:
                more, sw1, sw2 = self.connection.transmit([apdu[0], GET_RESPONSE, 0, 0, sw2])
                data += more
        except CardConnectionException as e:
            raise LinkError(f"reader {self.reader}: {e}") from None
        return bytes(data) + bytes((sw1, sw2))

    def close(self) -> None:
        from smartcard.Exceptions import CardConnectionException

        try:
            self.connection.disconnect()
        except CardConnectionException:
            pass  # the card left already


class PcscReaders:
    """The upurse cards on the PC/SC readers, each known by its card ID."""

    def __init__(self, issuer: Issuer) -> None:
        self.issuer = issuer
        use_rig(issuer)
        self._cards: dict[bytes, PcscCard] | None = None
        self.seen: dict[str, str] = {}  # reader -> what it holds, for the error message

    def scan(self) -> dict[bytes, PcscCard]:
        """Connect to every reader with a card; keep those whose SELECT gives a card ID."""
        from smartcard.Exceptions import CardConnectionException, NoCardException
        from smartcard.pcsc.PCSCExceptions import EstablishContextException, ListReadersException
        from smartcard.System import readers

        try:
            found = readers()
        except (EstablishContextException, ListReadersException) as e:
            where = os.environ.get(SOCKET_ENV, "the system's pcscd")
            raise RigError(f"no PC/SC service at {where} ({e}); is pcscd running? "
                           "(`upurse rig pcsc up` starts one with virtual readers)") from None
        cards = {}
        for reader in found:
            connection = reader.createConnection()
            try:
                connection.connect()
            except (NoCardException, CardConnectionException):
                self.seen[str(reader)] = "no card"
                continue
            card = PcscCard(reader, connection)
            try:
                info = CardLink(card, str(reader)).select("S1001")
                card_id = bytes(info[proto.TAG_CARD_ID])
            except (SettlementError, KeyError):
                self.seen[str(reader)] = "a card that is not an upurse card (or not issued)"
                card.close()
                continue
            known = self.issuer.card_by_id(card_id)
            self.seen[str(reader)] = f"card {known.name if known else card_id.hex()}"
            cards[card_id] = card
        return cards

    @contextmanager
    def open(self, name: str) -> Iterator[PcscCard]:
        """The channel to card `name`, wherever it lies; disconnected afterwards."""
        card_id = self.issuer.card(name).card_id
        if self._cards is None:
            self._cards = self.scan()
        card = self._cards.pop(card_id, None)
        if card is None:
            held = "; ".join(f"{r}: {w}" for r, w in self.seen.items()) or "no readers"
            raise RigError(f"card {name} ({card_id.hex()}) is on no PC/SC reader ({held})")
        try:
            yield card
        finally:
            card.close()
