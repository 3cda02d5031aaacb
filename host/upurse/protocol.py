"""Protocol values as enums for the host, built from firmware/common/proto.py (their one home)."""
from __future__ import annotations

from enum import IntEnum

from upurse.port import install

install()
from common import proto  # noqa: E402
from common.status import describe  # noqa: E402

SW = IntEnum("SW", {k[3:]: v for k, v in vars(proto).items() if k.startswith("SW_")})
INS = IntEnum("INS", {k[4:]: v for k, v in vars(proto).items() if k.startswith("INS_")})
PURSES = {"money": proto.PURSE_MONEY, "points": proto.PURSE_POINTS}
PURSE_NAMES = {v: k for k, v in PURSES.items()}


class CardError(Exception):
    """A card answered a status word other than 9000."""

    def __init__(self, sw: int, what: str = "command"):
        super().__init__(f"{what}: {describe(sw)}")
        self.sw = sw


__all__ = ["SW", "INS", "PURSES", "PURSE_NAMES", "CardError", "proto", "describe"]
