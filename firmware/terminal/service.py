"""The terminal's service to the host: one JSON request per line in, one JSON reply per line out.

    {"op": "status"}                        board, readers (PN532 firmware), CRL held, free heap
    {"op": "list"}                          cards in the field: UID and identity (SELECT)
    {"op": "show", "reader": "A"}           a card's public state (terminal.inspect)
    {"op": "transfer", "purse": "money", "amount": 100, "date": 20260705, "trace": true}
                                            card A (301A) pays card B (301B): the receipt;
                                            unfinished transfers are recovered first
    {"op": "crl", "data": "<hex>", "ca": "<hex>", "car": "<hex>"}   the CA's revocation list
                                            (with the CA's public key and reference)
    {"op": "apdu", "reader": "A", "apdus": ["<hex>", ...]}   raw APDUs, e.g. personalization;
                                            the card stays activated until another op
    {"op": "clearing", "start": 0, "max": 16}   proofs in the clearing batch (terminal/clearing.py)
                                            from record `start`: "records" (hex), "total"
    {"op": "clearing_drop", "upto": 40}     the issuer holds records 0..39: forget them
    {"op": "release"}

Every reply echoes the request's "id" and says "ok"; a failure carries "error" (one line) and,
for settlement, the seed "step" that failed. Bytes travel as hex. With "trace", a reply lists
every APDU labelled by seed step with the PN532 frames that carried it.
"""
import gc
import json
import os
from binascii import hexlify, unhexlify
from time import ticks_diff, ticks_ms

from common import proto as P
from terminal.cardlink import CardLink, SettlementError
from terminal.readers import NoCard

_PURSES = {"money": P.PURSE_MONEY, "points": P.PURSE_POINTS}


def _hex(b):
    return hexlify(bytes(b)).decode()


def jsonable(v):
    """Bytes as hex, tuples as lists, dict keys as text: what json.dumps can write."""
    if isinstance(v, (bytes, bytearray, memoryview)):
        return _hex(v)
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    return v


class Failure(Exception):
    """A request that cannot be served; args: (message, step or None)."""


class Service:
    def __init__(self, readers, storage, board_name):
        self.readers = readers  # {"A": Reader, "B": Reader}
        self.storage = storage
        self.board_name = board_name
        self.started = ticks_ms()
        self.last_id = None  # of the request being answered
        self.crl = None  # terminal.revocation.CrlHolder once the CA key is known
        try:
            os.mkdir(storage)
        except OSError:
            pass  # exists
        self._load_crl()

    # -- one request ---------------------------------------------------------------------------

    def serve(self, line, out):
        """Answer one request line on the stream `out`: one JSON line, written as it is
        encoded (json.dump), so a long trace never sits in RAM as one string."""
        reply = self.handle(line)
        if reply is None:
            return
        gc.collect()
        try:
            json.dump(reply, out)
        except MemoryError:  # the host skips the broken line and reads this one
            reply = None
            gc.collect()
            out.write('\n{"ok": false, "error": "reply too large for the terminal\'s heap"'
                      ', "id": %s}' % json.dumps(self.last_id))
        out.write("\n")
        if hasattr(out, "flush"):
            out.flush()

    def handle(self, line):
        """The reply (a dict ready for json) to one request line; None for a blank line."""
        line = line.strip()
        if not line:
            return None
        rid = self.last_id = None
        try:
            req = json.loads(line)
            rid = self.last_id = req.get("id")
            op = req.get("op")
            handler = getattr(self, "op_" + str(op), None)
            if handler is None:
                raise Failure("unknown op %r" % op)
            if op != "apdu":  # raw APDU sessions last until another op
                self._release()
            reply = handler(req)
            reply["ok"] = True
        except SettlementError as e:
            reply = {"ok": False, "error": str(e), "step": e.step, "reason": e.reason, "sw": e.sw}
            if getattr(e, "card_id", None) is not None:  # terminal.revocation.RevokedCard
                reply["card_id"] = e.card_id
            if getattr(e, "trace", None) is not None:
                reply["trace"] = e.trace
        except Failure as e:
            reply = {"ok": False, "error": e.args[0]}
            if len(e.args) > 1:
                reply["step"] = e.args[1]
        except NoCard as e:
            reply = {"ok": False, "error": str(e), "step": "S1001"}
        except Exception as e:  # noqa: BLE001 - the host gets one line, the terminal goes on
            reply = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
        reply["id"] = rid
        return jsonable(reply)

    def _reader(self, req):
        label = req.get("reader", "A")
        if label not in self.readers:
            raise Failure("no reader %r: the terminal has A and B" % label)
        return self.readers[label]

    def _release(self):
        for r in self.readers.values():
            r.release()
            r.trace(False)

    # -- ops -----------------------------------------------------------------------------------

    def op_status(self, req):
        return {
            "board": self.board_name,
            "role": "terminal",
            "readers": {k: r.status() for k, r in self.readers.items()},
            "crl": self.crl.sequence if self.crl is not None and self.crl.sequence >= 0 else None,
            "mem_free": gc.mem_free() if hasattr(gc, "mem_free") else None,
            "uptime_ms": ticks_diff(ticks_ms(), self.started),
        }

    def op_release(self, req):
        return {}

    def op_list(self, req):
        """Each reader's card: UID (08h + 3 random bytes, says nothing) and what SELECT says."""
        cards = []
        for label in sorted(self.readers):
            r = self.readers[label]
            try:
                uid = r.activate(req.get("timeout_ms", 500))
            except NoCard:
                continue
            card = {"reader": label, "uid": uid, "ats": r.nfc.ats}
            try:
                info = CardLink(r, label).select("S1001")
                card["state"] = int.from_bytes(bytes(info[P.TAG_STATE]), "big")
                if P.TAG_CARD_ID in info:
                    card["card_id"] = bytes(info[P.TAG_CARD_ID])
            except SettlementError as e:  # another application, or no answer
                card["error"] = e.reason
            r.release()
            cards.append(card)
        return {"cards": cards}

    def op_show(self, req):
        from terminal.inspect import read_card, read_log

        r = self._reader(req)
        r.activate()
        link = CardLink(r, r.label)
        card = read_card(link)
        card["uid"] = r.uid
        if req.get("log"):
            card["log"] = read_log(link)
        return {"reader": r.label, "card": card}

    def op_apdu(self, req):
        r = self._reader(req)
        if req.get("fresh"):
            r.activate()
        else:
            r.ensure()
        apdus = req.get("apdus") or [req["apdu"]]
        responses = [r.transmit(unhexlify(a)) for a in apdus]
        if req.get("release"):
            r.release()
        return {"reader": r.label, "responses": responses}

    def op_transfer(self, req):
        """Recover what the journal or the cards know to be unfinished, then settle (as the
        host's direct mode does); the journal follows every exchange (terminal.witness)."""
        from terminal.settlement import settle

        purse = req.get("purse", "money")
        purse = _PURSES.get(purse, purse)
        if not isinstance(purse, int):
            raise Failure("unknown purse %r" % req.get("purse"), "S2001")
        a, b = self.readers["A"], self.readers["B"]
        a.activate()
        b.activate()
        journal = self._journal()
        before = []
        if journal is not None:
            from terminal.resume import recover

            before = recover([("A", a), ("B", b)], journal)
        trace = None
        record = None
        if req.get("trace"):
            trace = []
            readers = self.readers

            def record(step, label, apdu, resp, ms):  # hex at once: no second copy later
                frames = [(d, _hex(f)) for d, f in readers[label].take_frames()]
                trace.append({"step": step, "card": label, "apdu": _hex(apdu),
                              "response": _hex(resp), "ms": ms, "frames": frames})

            a.trace(True)
            b.trace(True)
        kwargs = {}
        if journal is not None:
            from terminal.witness import Witness

            kwargs["trace"] = Witness(journal, record)
        elif record is not None:
            kwargs["trace"] = record
        if self.crl is not None and self.crl.sequence >= 0:
            kwargs["crl"] = self.crl
        try:
            receipt = settle(a, b, purse, int(req["amount"]), int(req["date"]), **kwargs)
        except SettlementError as e:
            e.trace = trace
            raise
        receipt["recovered"] = before + receipt["recovered"]
        reply = {"receipt": receipt}
        if trace is not None:
            reply["trace"] = trace
        return reply

    def _journal(self):
        """The terminal's journal of unfinished transfers, on its flash; None on a terminal
        built without one."""
        try:
            from terminal.journal import Journal
        except ImportError:
            return None
        return Journal(self.storage)

    def op_clearing(self, req):
        from terminal.clearing import Clearing

        c = Clearing(self.storage)
        start = int(req.get("start", 0))
        return {"records": c.read(start, min(int(req.get("max", 16)), 32)), "start": start,
                "total": c.count()}

    def op_clearing_drop(self, req):
        from terminal.clearing import Clearing

        c = Clearing(self.storage)
        c.drop(int(req["upto"]))
        return {"left": c.count()}

    def op_crl(self, req):
        from terminal.revocation import CrlHolder

        if req.get("ca"):
            ca = unhexlify(req["ca"])
            car = unhexlify(req["car"]) if req.get("car") else None
            if self.crl is None or self.crl.ca_public_key != ca or self.crl.car != car:
                self._write("ca.pub", ca)
                self._write("ca.car", car or b"")
                self._remove("crl")  # a list signed by another CA says nothing now
                self.crl = CrlHolder(ca, car, self._path("crl"))
        if self.crl is None:
            raise Failure("no CA public key yet: send \"ca\" with the first CRL")
        data = unhexlify(req["data"])
        if data == self.crl.data():  # the list held: no signature to check again
            return {"taken": False, "sequence": self.crl.sequence}
        try:
            taken = self.crl.offer(data)
        except ValueError as e:
            raise Failure("CRL refused: %s" % (e.args[0] if e.args else e)) from None
        return {"taken": taken, "sequence": self.crl.sequence}

    # -- storage -------------------------------------------------------------------------------

    def _path(self, name):
        return self.storage + "/" + name

    def _write(self, name, data):
        from common.atomicfile import replace

        replace(self._path(name), data)

    def _remove(self, name):
        try:
            os.remove(self._path(name))
        except OSError:
            pass

    def _load_crl(self):
        try:
            with open(self._path("ca.pub"), "rb") as f:
                ca = f.read()
            with open(self._path("ca.car"), "rb") as f:
                car = f.read() or None
        except OSError:
            return
        from terminal.revocation import CrlHolder

        try:
            self.crl = CrlHolder(ca, car, self._path("crl"))
        except Exception as e:  # noqa: BLE001 - a damaged file must not stop the terminal
            print("terminal: stored CRL ignored:", e)
            self.crl = CrlHolder(ca, car)
