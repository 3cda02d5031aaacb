"""The issuer's verdict on a card's pending record (ISSUER RESOLVE, docs/protocol.md 7, 12).

A pending record that no card can settle (its peer lost, its proof gone from every log and
journal, its payer's key rolled on) would block its card for good. The issuer, which keeps
every card's history in its registry, decides what happened and tells the card under a key
only it and that card hold: the card's personalization key, diversified from the issuer's
master key. The MAC binds the card, the record's whole context (both randoms), the verdict and
the issuer's date, so it clears that one record of that one card, once.
"""
from common.cmac import cmac, equal
from common.kdf import derive


def _key(perso_key, card_id):
    return derive(perso_key, b"upurse resolve", bytes(card_id))


def mac(perso_key, card_id, verdict, date, context):
    return cmac(_key(perso_key, card_id),
                bytes((verdict,)) + date.to_bytes(4, "big") + bytes(context))


def check(perso_key, card_id, verdict, date, context, tag):
    return equal(mac(perso_key, card_id, verdict, date, context), tag)
