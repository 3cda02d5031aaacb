"""docs/protocol.md agrees with firmware/common/proto.py, and its seed-step table is complete.

The page's tables name constants in a `Constant` column (`INS_VALUE_TX`) with their value in a
`Value`, `Tag`, `INS` or `SW` column (hex) or a `Size` column (decimal). Every such row must match
proto.py, and every public constant of proto.py must appear in some row: one home for each
value, and a page that cannot fall behind it. Code named in the step and command tables
(`card.applet.Applet.value_tx`) must exist, so a rename shows up here too.
"""
from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from common import proto as P

DOC = Path(__file__).resolve().parents[1] / "docs" / "protocol.md"

HEX_COLUMNS = ("Value", "Tag", "INS", "SW")
DECIMAL_COLUMNS = ("Size",)
CODE_COLUMNS = ("Card code", "Terminal code", "Card handler")
_NAME = re.compile(r"^`(AID|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`$")
_CODE = re.compile(r"`((?:card|terminal|common)(?:\.[A-Za-z_][A-Za-z0-9_]*)+)`")

# Every step of the seed's Fig. 3 and Fig. 4 (S1103B/S1104B: the symmetric direction of the
# key roll), and our own steps.
SEED_STEPS = (
    "S1001", "S1002", "S1101A", "S1101B", "S1003", "S1004", "S1102A", "S1005", "S1102B",
    "S1006", "S1103A", "S1104A", "S1103B", "S1104B",
    "S2001", "S2101A", "S2102A", "S2002", "S2101B", "S2102B", "S2103B", "S2003", "S2103A",
    "S2104A", "S2105A", "S2004", "S2104B", "S2105B",
)
OUR_STEPS = ("S2005", "RECOVER", "RESOLVE")
# Embodiments 2-5: Fig. 7, 11, 18 (public key) and Fig. 10, 14, 17 (update key, pre-loaded),
# and our key-confirmation step of the public-key path.
_PK_STEPS = ("001", "002", "003", "004", "005", "006", "101A", "101B", "102A", "102B", "103A",
             "103B", "104A", "105A")
_UK_STEPS = ("001", "002", "003", "004", "005", "006", "101A", "101B", "102A", "102B", "103A",
             "104A")
EMBODIMENT_STEPS = (tuple(f"S{fig}{n}" for fig in "358" for n in _PK_STEPS)
                    + tuple(f"S{fig}{n}" for fig in "467" for n in _UK_STEPS))
OUR_EMBODIMENT_STEPS = ("S3007", "S5007", "S8007")
PREFIXES = ("CLA_", "INS_", "SW_", "TAG_", "STATE_", "SCHEME_", "PURSE_", "PENDING_", "LOG_")


@dataclass
class Table:
    section: str  # the "## ..." heading above it
    heading: str  # the nearest heading of any level above it
    line: int  # 1-based line of its header
    header: list[str]
    rows: list[tuple[int, list[str]]] = field(default_factory=list)

    def column(self, *names: str) -> int | None:
        for name in names:
            if name in self.header:
                return self.header.index(name)
        return None


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def parse_tables(text: str) -> list[Table]:
    """Every pipe table outside code fences, with the headings it sits under."""
    tables: list[Table] = []
    section = heading = ""
    fenced = False
    current: Table | None = None
    lines = text.splitlines()
    for i, line in enumerate(lines, 1):
        if line.startswith("```"):
            fenced = not fenced
        if fenced or not line.startswith("|"):
            current = None
            if not fenced and line.startswith("#"):
                heading = line.lstrip("#").strip()
                if line.startswith("## "):
                    section = heading
            continue
        if current is None:
            current = Table(section, heading, i, _cells(line))
            tables.append(current)
        elif not set(line.replace("|", "").strip()) <= set("-: "):
            current.rows.append((i, _cells(line)))
    return tables


@pytest.fixture(scope="module")
def tables() -> list[Table]:
    return parse_tables(DOC.read_text(encoding="utf-8"))


def proto_constants() -> dict[str, int | bytes]:
    return {k: v for k, v in vars(P).items()
            if k.isupper() and not k.startswith("_") and isinstance(v, (int, bytes))}


def _value(cell: str, decimal: bool) -> int | bytes | None:
    text = cell.replace("`", "").replace(" ", "")
    if text.lower().startswith("0x"):
        text = text[2:]
    if not text or text in ("—", "-"):
        return None
    return int(text, 10 if decimal else 16)


def documented(tables: list[Table]) -> dict[str, list[tuple[int | bytes | None, int]]]:
    """name -> [(value or None when the row gives none, line)] for every Constant cell."""
    out: dict[str, list[tuple[int | bytes | None, int]]] = {}
    for t in tables:
        ci = t.column("Constant")
        if ci is None:
            continue
        vi = t.column(*HEX_COLUMNS)
        di = t.column(*DECIMAL_COLUMNS)
        for line, cells in t.rows:
            m = _NAME.match(cells[ci]) if ci < len(cells) else None
            if m is None:
                continue
            name = m.group(1)
            value: int | bytes | None = None
            if vi is not None and vi < len(cells):
                raw = cells[vi]
                if name == "AID":
                    value = bytes.fromhex(raw.replace("`", "").replace(" ", ""))
                else:
                    value = _value(raw, decimal=False)
            elif di is not None and di < len(cells):
                value = _value(cells[di], decimal=True)
            out.setdefault(name, []).append((value, line))
    return out


def _group(name: str) -> str:
    for prefix in PREFIXES:
        if name.startswith(prefix) and not (prefix == "LOG_" and name == "LOG_SIZE"):
            return prefix
    return "other"


def _show(value: int | bytes | None) -> str:
    if value is None:
        return "no value"
    return value.hex() if isinstance(value, bytes) else f"{value:X}"


def test_doc_parses_into_tables(tables):
    """Guards the parser itself: a page with no constants would pass everything below."""
    names = documented(tables)
    assert len(names) >= 100, sorted(names)
    assert names["INS_VALUE_TX"][0] == (0x64, names["INS_VALUE_TX"][0][1])


def test_every_documented_value_matches_proto(tables):
    """Doc -> code: each constant a table names exists in proto.py, with the value given."""
    proto = proto_constants()
    wrong = []
    for name, seen in sorted(documented(tables).items()):
        if name not in proto:
            wrong.append(f"{name} (line {seen[0][1]}) is not in proto.py")
            continue
        for value, line in seen:
            if value is not None and value != proto[name]:
                wrong.append(f"{name} on line {line} is {_show(value)}, "
                             f"proto.py has {_show(proto[name])}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("group", PREFIXES + ("other",))
def test_every_proto_constant_is_documented(tables, group):
    """Code -> doc: each public constant of proto.py has a row with its value."""
    names = documented(tables)
    missing = []
    for name, value in sorted(proto_constants().items()):
        if _group(name) != group:
            continue
        if not any(v is not None for v, _ in names.get(name, ())):
            missing.append(f"{name} = {_show(value)}")
    assert not missing, "not in any docs/protocol.md table with its value:\n" + "\n".join(missing)


def _one(tables: list[Table], predicate, what: str) -> Table:
    found = [t for t in tables if predicate(t)]
    assert len(found) == 1, f"expected one {what} table, found {len(found)}"
    return found[0]


def _names_in(table: Table) -> set[str]:
    ci = table.column("Constant")
    return {m.group(1) for _, cells in table.rows if (m := _NAME.match(cells[ci]))}


def test_every_command_has_a_row_and_a_section(tables):
    text = DOC.read_text(encoding="utf-8")
    commands = _one(tables, lambda t: {"Command", "CLA", "INS", "P1", "P2"} <= set(t.header),
                    "command")
    ins = {k for k in proto_constants() if k.startswith("INS_")}
    assert ins - _names_in(commands) == set()
    # A section each: a heading naming the constant, or a row of the section 11 summary table
    # for the key-update embodiments 2-5 (specified in full in docs/pki.md).
    summary = set()
    for t in tables:
        if t.section.startswith("11.") and "Constant" in t.header:
            summary |= _names_in(t)
    headed = set(re.findall(r"^#{2,4} .*`(INS_[A-Z0-9_]+)`", text, re.M))
    assert ins - headed - summary == set()
    # the command table's CLA column agrees with proto.py
    cla = commands.column("CLA")
    ci = commands.column("Constant")
    for line, cells in commands.rows:
        want = P.CLA_ISO if _NAME.match(cells[ci]).group(1) == "INS_SELECT" else P.CLA_PROPRIETARY
        assert int(cells[cla], 16) == want, f"line {line}"


def test_status_word_table_lists_every_status_word(tables):
    table = _one(tables, lambda t: t.section.startswith("3.") and "SW" in t.header,
                 "status word")
    sw = {k for k in proto_constants() if k.startswith("SW_")}
    assert sw - _names_in(table) == set()
    meaning = table.column("Meaning")
    assert all(cells[meaning] for _, cells in table.rows)


def test_tag_tables_list_every_tag(tables):
    listed: set[str] = set()
    for t in tables:
        if t.section.startswith("4.") and {"Tag", "Constant"} <= set(t.header):
            listed |= _names_in(t)
    tags = {k for k in proto_constants() if k.startswith("TAG_")}
    assert tags - listed == set()


def test_life_cycle_table(tables):
    table = _one(tables, lambda t: t.section.startswith("5.") and "Constant" in t.header,
                 "life cycle")
    assert _names_in(table) == {k for k in proto_constants() if k.startswith("STATE_")}


def _step_table(tables: list[Table]) -> Table:
    return _one(tables, lambda t: t.header[:1] == ["Seed step"], "seed step")


def test_step_table_covers_every_seed_step(tables):
    table = _step_table(tables)
    steps = [cells[0] for _, cells in table.rows]
    missing = [s for s in SEED_STEPS + OUR_STEPS if s not in steps]
    assert not missing, f"steps missing from the seed step table: {missing}"
    unknown = [s for s in steps if s not in SEED_STEPS + OUR_STEPS]
    assert not unknown, f"steps in the table that are not Fig. 3/4 steps: {unknown}"


def test_step_table_names_a_command_or_terminal_code_for_each_step(tables):
    table = _step_table(tables)
    ci = table.column("Constant")
    card = table.column("Card code")
    terminal = table.column("Terminal code")
    for line, cells in table.rows:
        assert _NAME.match(cells[ci]) or cells[0] == "S1003", f"line {line}: no command"
        assert _CODE.search(cells[card]) or _CODE.search(cells[terminal]), f"line {line}"


def test_embodiment_step_table_covers_figures_7_to_18(tables):
    """Section 11 maps every step of the key rolls of embodiments 2-5, each once, to code."""
    table = _one(tables, lambda t: t.section.startswith("11.") and t.header[:1] == ["Step"],
                 "embodiment step")
    ci = table.column("Constant")
    card = table.column("Card code")
    terminal = table.column("Terminal code")
    listed: list[str] = []
    for line, cells in table.rows:
        steps = [s.strip() for s in cells[0].split(",")]
        listed += steps
        checks = all(s[2:] == "003" for s in steps)  # the terminal's own check: no command
        assert _NAME.match(cells[ci]) or checks, f"line {line}: no command"
        assert _CODE.search(cells[card]) or _CODE.search(cells[terminal]), f"line {line}"
    want = EMBODIMENT_STEPS + OUR_EMBODIMENT_STEPS
    assert sorted(set(listed)) == sorted(listed), "a step is on two rows"
    assert set(listed) == set(want), (sorted(set(want) - set(listed)),
                                      sorted(set(listed) - set(want)))


def _resolve(dotted: str):
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def test_code_named_in_the_tables_exists(tables):
    named: dict[str, int] = {}
    for t in tables:
        for col in CODE_COLUMNS:
            ci = t.column(col)
            if ci is None:
                continue
            for line, cells in t.rows:
                for m in _CODE.finditer(cells[ci]):
                    named.setdefault(m.group(1), line)
    assert len(named) > 20
    broken = []
    for dotted, line in sorted(named.items()):
        try:
            obj = _resolve(dotted)
        except (ImportError, AttributeError) as e:
            broken.append(f"{dotted} (line {line}): {e}")
            continue
        if not callable(obj):
            broken.append(f"{dotted} (line {line}) is not a function or class")
    assert not broken, "\n".join(broken)


def test_parser_reports_a_wrong_value():
    """The checks can fail: a row with a wrong value or an unknown name is caught."""
    page = ("## 2. Commands\n\n| Command | Constant | INS |\n| --- | --- | --- |\n"
            "| VALUE TX | `INS_VALUE_TX` | 65 |\n| BOGUS | `INS_BOGUS` | 01 |\n")
    seen = documented(parse_tables(page))
    assert seen["INS_VALUE_TX"] == [(0x65, 5)]
    assert 0x65 != P.INS_VALUE_TX
    assert "INS_BOGUS" in seen and not hasattr(P, "INS_BOGUS")
