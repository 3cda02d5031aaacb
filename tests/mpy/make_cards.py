"""Personalize cards 1 and 2 into a folder (the issuer's step, in its own process)."""
import sys

from cards import make_card

root = sys.argv[1]
make_card(root, 1, transfer_key_id=1)
make_card(root, 2, transfer_key_id=2)
print("OK cards")
