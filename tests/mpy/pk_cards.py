"""Personalize two cards of one key-update scheme into a folder (the issuer's step).

    micropython pk_cards.py FOLDER SCHEME

card1 and card3 hold transfer key generation 1 and update key generation 1, card2 generations
2 and 2: for the public-key schemes (2, 3, 5) a roll between them takes the public-key path.
"""
import sys

from cards import UPDATE_KEYS, make_card

from common import proto as P

root, scheme = sys.argv[1], int(sys.argv[2])
for n in (1, 2, 3):
    generation = 2 if n == 2 else 1
    if scheme == P.SCHEME_PKI:
        make_card(root, n, transfer_key_id=generation, scheme=scheme)
    elif scheme == P.SCHEME_PRELOADED:
        make_card(root, n, transfer_key_id=generation, scheme=scheme, preloaded=(1, 2, 3))
    else:
        make_card(root, n, transfer_key_id=generation, scheme=scheme, update_key_id=generation,
                  update_key=UPDATE_KEYS[generation])
print("OK cards", scheme)
