"""The emulated rig: a simulated PN532 field that firmware boards reach over pseudo-terminals."""
from upurse.rig.field import Exchange, Field, StubCard

__all__ = ["Exchange", "Field", "StubCard"]
