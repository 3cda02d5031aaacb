"""Expected outcomes for check_cvc.py and check_crl.py: each case is `ok` or a refusal reason.

    tally = Tally()
    tally.add(name, expect, problem)  # problem: None when the outcome was the expected one
    tally.done()  # exit 1 if any case failed (FAIL lines are printed as they come)
"""
import sys


def refusal(e, expect):
    """None when the CertificateError `e` gives the reason `expect` (spaces written `_`), else
    what happened instead."""
    got = e.args[0].replace(" ", "_")
    return None if got == expect else "refused: " + got


class Tally:
    def __init__(self):
        self.accepted = self.refused = self.fails = 0

    def add(self, name, expect, problem):
        if problem:
            print("FAIL", name, "expected", expect, "got", problem)
            self.fails += 1
        elif expect == "ok":
            self.accepted += 1
        else:
            self.refused += 1

    def done(self):
        if self.fails:
            sys.exit(1)
