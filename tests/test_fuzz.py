"""Property-based fuzzing of the card applet with hypothesis, on the CPython port.

Three personalized cards (card 3 one transfer key generation ahead) take random APDUs,
structured ones (known classes, instructions and tags with random values) and mutated ones
(honest commands of every flow with bits flipped, bytes set, inserted or cut), alone or mixed
into random sequences with honest transfer steps, whole settlements, journal recoveries,
re-selections and power cycles. tests/mpy/fuzzcheck.py checks every command: no exception
escapes, each status word is one of common/proto.py's (never 6F00), a refused command changes no
stored byte, no response holds key material, value is conserved, key IDs never go back.

Budget: in `make test` a fixed number of examples, derandomized, so every run tries the same
inputs. `UPURSE_FUZZ_EXAMPLES=N` (`make fuzz`) runs N examples per test with fresh randomness;
with `UPURSE_FUZZ_SAVE=1` as well, each sequence that reaches an (instruction, status word)
pair not seen before is written to tests/corpus/, which test_corpus_replays_on_micropython
replays on the real binary.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from conftest import MPY_TESTS, TESTS, run_firmware
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(MPY_TESTS))  # the lab and the checks are firmware-side modules

from driver import DATE, SELECT, STEPS, Run  # noqa: E402
from fieldlab import World  # noqa: E402
from fuzzcheck import ALLOWED, Checked  # noqa: E402

from common import perso  # noqa: E402
from common import proto as P  # noqa: E402
from common.apdu import command  # noqa: E402
from common.tlv import TlvError, encode, items  # noqa: E402
from terminal.cardlink import SettlementError  # noqa: E402
from terminal.resume import recover  # noqa: E402
from terminal.settlement import settle  # noqa: E402

CORPUS = TESTS / "corpus"
LONG = int(os.environ.get("UPURSE_FUZZ_EXAMPLES", "0"))
SAVE = os.environ.get("UPURSE_FUZZ_SAVE") == "1"
EXAMPLES = {"apdus": LONG or 800, "sequences": LONG or 1000}
PROFILES = {1: {}, 2: {}, 3: {"transfer_key_id": 2}}
CARDS = sorted(PROFILES)
ROOT = tempfile.mkdtemp(prefix="upurse-fuzz-")

INS_ALL = sorted({getattr(P, n) for n in dir(P) if n.startswith("INS_")})
TAGS = sorted({getattr(P, n) for n in dir(P) if n.startswith("TAG_")})


def budget(name: str):
    return settings(max_examples=EXAMPLES[name], derandomize=not LONG, database=None,
                    deadline=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


# -- honest commands of every flow: the seeds that mutations start from -----------------------

class _Tap:
    """A lab that keeps every command it passes to the cards."""

    def __init__(self, world: World):
        self.world = world
        self.cards = world.cards
        self.apdus: list[bytes] = []

    def transmit(self, n: int, apdu: bytes) -> bytes:
        self.apdus.append(bytes(apdu))
        return self.cards[n].transmit(apdu)

    def channel(self, n: int):
        tap = self

        class Channel:
            def transmit(self, apdu: bytes) -> bytes:
                return tap.transmit(n, apdu)

        return Channel()


def _seeds() -> list[bytes]:
    world = World(ROOT + "/seeds", PROFILES)
    tap = _Tap(world)
    settle(tap.channel(3), tap.channel(1), P.PURSE_MONEY, 10, DATE)  # with a key roll
    settle(tap.channel(1), tap.channel(2), P.PURSE_POINTS, 5, DATE)
    Run(tap, 2, 1).upto("S2003")  # torn: 2 debited, 1 holds a tentative credit
    world.power_cycle()
    recover([("a", tap.channel(1)), ("b", tap.channel(2))], world.journal())
    Run(tap, 1, 2).upto("S2002")  # torn: undone by the abort proof
    world.power_cycle()
    recover([("a", tap.channel(1)), ("b", tap.channel(2))], world.journal())
    tap.transmit(1, SELECT)
    for ins, p1 in ((P.INS_GET_BALANCE, 0), (P.INS_GET_BALANCE, 1), (P.INS_GET_LOG, 0),
                    (P.INS_GET_LOG, 3), (P.INS_GET_CARD_INFO, 0), (P.INS_GET_PENDING, 0),
                    (P.INS_KEY_UPDATE_PERMISSION, 0)):
        tap.transmit(1, command(P.CLA_PROPRIETARY, ins, p1))
    cid = bytes(8)
    tap.apdus += perso.commands(cid, bytes(16), {"transfer_key_id": 1, "transfer_key": bytes(16),
                                                 "validity": 20301231,
                                                 "purses": {1: (5, 10)}})
    return sorted(set(tap.apdus))


SEEDS = _seeds()


# -- strategies ---------------------------------------------------------------------------------

byte = st.integers(0, 255)
tag = st.one_of(st.sampled_from(TAGS), byte)
value = st.one_of(st.binary(max_size=40), st.sampled_from([bytes(n) for n in (1, 2, 4, 8, 16, 24,
                                                                              65)]))
tlvs = st.lists(st.tuples(tag, value), max_size=6).map(
    lambda items: b"".join(encode(t, v) for t, v in items))


def _command(cla: int, ins: int, p1: int, p2: int, data: bytes, le: bool) -> bytes:
    return command(cla, ins, p1, p2, data[:255], le)


structured = st.builds(
    _command,
    st.one_of(st.just(P.CLA_PROPRIETARY), st.sampled_from([P.CLA_ISO, P.CLA_PROPRIETARY]), byte),
    st.one_of(st.sampled_from(INS_ALL), byte),
    st.one_of(st.just(0), st.sampled_from([1, 2, 3, 4, 8, 9]), byte),
    st.one_of(st.just(0), byte),
    st.one_of(tlvs, st.binary(max_size=255)), st.booleans())

mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 300), st.integers(0, 7)),
    st.tuples(st.just("set"), st.integers(0, 300), byte),
    st.tuples(st.just("insert"), st.integers(0, 300), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("delete"), st.integers(0, 300), st.integers(1, 16)),
    st.tuples(st.just("truncate"), st.integers(0, 300), st.just(0)),
)


def _mutate(seed: bytes, edits: list) -> bytes:
    out = bytearray(seed)
    for op, at, arg in edits:
        at = at % (len(out) + 1)
        if op == "flip" and at < len(out):
            out[at] ^= 1 << arg
        elif op == "set" and at < len(out):
            out[at] = arg
        elif op == "insert":
            out[at:at] = arg
        elif op == "delete":
            del out[at : at + arg]
        elif op == "truncate":
            del out[at:]
    return bytes(out)


mutated = st.builds(_mutate, st.sampled_from(SEEDS), st.lists(mutation, min_size=1, max_size=4))


def _fields(seed: bytes) -> list | None:
    try:
        return [(t, bytes(v)) for t, v in items(seed[5 : 5 + seed[4]])] if len(seed) > 5 else None
    except TlvError:
        return None


TLV_SEEDS = [s for s in SEEDS if _fields(s)]  # commands with a TLV body
field_edit = st.one_of(
    st.tuples(st.just("value"), st.integers(0, 20), st.binary(max_size=40)),
    st.tuples(st.just("same size"), st.integers(0, 20), st.randoms(use_true_random=False)),
    st.tuples(st.just("drop"), st.integers(0, 20), st.just(None)),
    st.tuples(st.just("repeat"), st.integers(0, 20), st.just(None)),
    st.tuples(st.just("retag"), st.integers(0, 20), tag),
    st.tuples(st.just("boundary"), st.integers(0, 20),
              st.sampled_from([b"", b"\x00", b"\xff", b"\x7f\xff\xff\xff", b"\x80\x00\x00\x00",
                               b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\xff\xff"])),
)


def _edit_fields(seed: bytes, edits: list) -> bytes:
    """A seed with its TLV fields edited: values replaced, resized, dropped, repeated, retagged."""
    fields = _fields(seed)
    for op, at, arg in edits:
        if not fields:
            break
        i = at % len(fields)
        t, v = fields[i]
        if op == "value":
            fields[i] = (t, arg)
        elif op == "same size":
            fields[i] = (t, bytes(arg.getrandbits(8) for _ in v))
        elif op == "drop":
            del fields[i]
        elif op == "repeat":
            fields.insert(i, (t, v))
        elif op == "retag":
            fields[i] = (arg, v)
        else:
            fields[i] = (t, arg)
    body = b"".join(encode(t, v) for t, v in fields or [])
    return _command(seed[0], seed[1], seed[2], seed[3], body, True)


field_mutated = st.builds(_edit_fields, st.sampled_from(TLV_SEEDS),
                          st.lists(field_edit, min_size=1, max_size=3))
apdu = st.one_of(st.binary(max_size=262), structured, mutated, field_mutated)
# well-formed reads: what a terminal asks of a card in any state (key leaks would show here)
QUERIES = [command(P.CLA_PROPRIETARY, ins, p1) for ins, p1 in (
    (P.INS_GET_PENDING, 0), (P.INS_GET_LOG, 0), (P.INS_GET_LOG, 3), (P.INS_GET_LOG, 6),
    (P.INS_GET_LOG, 9), (P.INS_GET_BALANCE, 0), (P.INS_GET_BALANCE, 2), (P.INS_GET_BALANCE, 5),
    (P.INS_GET_CARD_INFO, 0), (P.INS_KEY_UPDATE_PERMISSION, 0))] + [SELECT]
query = st.sampled_from(QUERIES)
card = st.sampled_from(CARDS)
pair = st.sampled_from([(1, 2), (2, 1), (1, 3), (3, 1), (2, 3), (3, 2)])
amount = st.one_of(st.sampled_from([1, 50, 100, 1000, 1001, 0, 2**31 - 1, 2**31, 2**32 - 1]),
                   st.integers(0, 2**32 - 1))
action = st.one_of(
    st.tuples(st.just("send"), card, apdu),
    st.tuples(st.just("send"), card, query),
    st.tuples(st.just("begin"), pair, amount, st.sampled_from([0, 0, 0, -1, 1, 10**4])),
    st.tuples(st.just("step"), st.sampled_from(STEPS)),
    st.tuples(st.just("advance"), st.sampled_from(STEPS)),
    st.tuples(st.just("settle"), pair, st.integers(1, 300)),
    st.tuples(st.just("recover"), st.sampled_from([(1,), (2,), (3,), (1, 2), (2, 3), (1, 3)])),
    st.tuples(st.just("reboot"), card),
    st.tuples(st.just("select"), card),
)


# -- the lab ------------------------------------------------------------------------------------

class Lab(Checked):
    """Checked cards that also write down what they were sent, for the corpus."""

    def __init__(self, name: str):
        self.world = World(f"{ROOT}/{name}", PROFILES)
        super().__init__(self.world)
        self.script: list[str] = []

    def transmit(self, n: int, apdu: bytes) -> bytes:
        self.script.append(f"{n} {bytes(apdu).hex()}")
        return super().transmit(n, apdu)

    def reboot(self, n: int) -> None:
        self.script.append(f"{n} !")
        self.cards[n].boot()


class Corpus:
    """(instruction, status word) pairs reached so far; saves the sequences that add one.

    A corpus file: `# reaches ...`, then a line per command, `N HEX` (card N; HEX may be
    empty), or `N !` for a power cycle of card N."""

    def __init__(self):
        self.seen: set = set()
        self.saved = 0

    def offer(self, lab: Lab) -> None:
        # instruction bytes the applet does not know count as one: they all answer 6D00
        new = {(i if i in INS_ALL else -1, sw) for i, sw in lab.seen} - self.seen
        self.seen |= new
        if SAVE and new:
            CORPUS.mkdir(exist_ok=True)
            first = min(new)
            path = CORPUS / f"seq-{first[0] & 0xFF:02x}-{first[1]:04x}-{len(self.seen):04d}.hex"
            reached = ", ".join(f"{i & 0xFF:02X}/{s:04X}" for i, s in sorted(new))
            path.write_text(f"# reaches {reached}\n" + "\n".join(lab.script) + "\n")
            self.saved += 1


def _play(lab: Lab, actions: list) -> None:
    run = None
    for a in actions:
        kind = a[0]
        if kind == "send":
            lab.transmit(a[1], a[2])
        elif kind == "begin":
            (payer, payee), value_, shift = a[1], a[2], a[3]
            run = Run(lab, payer, payee, amount=value_, date=DATE + shift)
        elif kind == "step" and run is not None:
            try:
                run.try_step(a[1])
            except KeyError:
                pass  # an earlier step never succeeded: nothing honest to send
        elif kind == "advance" and run is not None:  # honest steps, in order, up to a[1]
            for step in STEPS[: STEPS.index(a[1]) + 1]:
                if step not in run.got:
                    try:
                        run.try_step(step)
                    except KeyError:
                        break
                    if step not in run.got:
                        break
        elif kind == "settle":
            try:
                settle(lab.channel(a[1][0]), lab.channel(a[1][1]), P.PURSE_MONEY, a[2], DATE)
            except SettlementError:
                pass
        elif kind == "recover":
            recover([(f"c{n}", lab.channel(n)) for n in a[1]], lab.world.journal())
        elif kind == "reboot":
            lab.reboot(a[1])
        elif kind == "select":
            lab.transmit(a[1], SELECT)


# -- the tests ----------------------------------------------------------------------------------

SETUPS = ("unselected", "selected", "after S2001", "after S2002", "after S2003", "after S2004")


def test_random_and_mutated_apdus() -> None:
    """A few commands, each to any card, run against every setup: cards not selected, selected,
    and stopped after each step of a transfer from card 1 to card 2 (records pending)."""
    totals = {"examples": 0, "commands": 0, "refused": 0}
    corpus = Corpus()

    @budget("apdus")
    @given(apdus=st.lists(st.tuples(card, st.one_of(apdu, query)), min_size=1, max_size=4))
    def one(apdus: list[tuple[int, bytes]]) -> None:
        for setup in SETUPS:
            lab = Lab("apdus")
            if setup.startswith("after"):
                Run(lab, 1, 2).upto(setup[-5:])
            elif setup == "selected":
                for n in CARDS:
                    lab.transmit(n, SELECT)
            for n, a in apdus:
                lab.transmit(n, a)
            totals["commands"] += lab.commands
            totals["refused"] += lab.refused
            corpus.offer(lab)
        totals["examples"] += 1

    one()
    print(f"\nfuzz apdus: {totals['examples']} examples x {len(SETUPS)} setups, "
          f"{totals['commands']} commands, {totals['refused']} refused, "
          f"{len(corpus.seen)} (INS, SW) pairs")
    assert totals["examples"] >= EXAMPLES["apdus"]
    # the mutated honest commands reach the applet's handlers, not only its parser
    assert len({sw for _, sw in corpus.seen}) >= 8
    assert {sw for _, sw in corpus.seen} <= set(ALLOWED)


def test_random_command_sequences() -> None:
    """Random commands interleaved with honest steps, settlements, recoveries, power cycles."""
    totals = {"examples": 0, "commands": 0, "refused": 0}
    corpus = Corpus()

    @budget("sequences")
    @given(actions=st.lists(action, min_size=1, max_size=25))
    def sequence(actions: list) -> None:
        lab = Lab("sequences")
        _play(lab, actions)
        totals["examples"] += 1
        totals["commands"] += lab.commands
        totals["refused"] += lab.refused
        corpus.offer(lab)

    sequence()
    print(f"\nfuzz sequences: {totals['examples']} examples, {totals['commands']} commands, "
          f"{totals['refused']} refused, {len(corpus.seen)} (INS, SW) pairs")
    assert totals["examples"] >= EXAMPLES["sequences"]
    assert (P.INS_VALUE_RX, P.SW_OK) in corpus.seen  # sequences do reach deep states
    assert (P.INS_VALUE_TX_CONFIRM, P.SW_OK) in corpus.seen


def test_corpus_replays_on_micropython(tmp_path: Path) -> None:
    files = sorted(CORPUS.glob("*.hex"))
    assert len(files) >= 20, "tests/corpus/ holds the saved fuzz corpus"
    out = run_firmware("micropython", MPY_TESTS / "fuzz_replay.py", str(tmp_path),
                       *map(str, files))
    last = out.strip().splitlines()[-1]
    assert last.startswith(f"OK corpus {len(files)} files"), out
