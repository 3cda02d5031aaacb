"""The whole fast path with all three roles (card A, card B, terminal) in one process."""
import sys

from card.applet import Applet
from card.store import Store
from terminal.settlement import PURSES, settle

root = sys.argv[1]  # cards 1 (transfer key ID 1) and 2 (ID 2), personalized by make_cards.py
a = Applet(Store(root + "/card1"))
b = Applet(Store(root + "/card2"))
r = settle(b, a, PURSES["money"], 100, 20261125)
assert r["key_roll"] == "update-key", r
assert r["payer_balance"] == 900 and r["payee_balance"] == 1100, r
assert r["transfer_key_id"] == 2
print("roll exchanges", r["exchanges"], "bytes", r["bytes_to_cards"] + r["bytes_from_cards"])
r = settle(a, b, PURSES["points"], 5, 20261126)
assert r["key_roll"] == "none", r
assert r["payer_balance"] == 45 and r["payee_balance"] == 55, r
print("transfer exchanges", r["exchanges"])
print("OK flow")
