"""Build step: fold the protocol constants into the code that uses them.

MicroPython folds `const()` only inside the module that defines it, so every `P.SW_OK` in the
firmware is a dictionary lookup at run time and keeps `common/proto.py`'s whole table of names
on the heap. For board builds we replace each `P.NAME` (and each name imported from
`common.proto`) by its value before mpy-cross compiles the module, and drop the import when
nothing else uses it. The source keeps its names; only the .mpy changes. (Frozen builds get the
table in flash anyway; this matters where bytecode lives in RAM, as on the unix port.)
"""
from __future__ import annotations

import ast

from common import proto  # noqa: E402  (the port is installed by `import upurse`)

CONSTANTS = {k: v for k, v in vars(proto).items()
             if k.isupper() and isinstance(v, int | bytes)}


def _literal(value: int | bytes) -> str:
    return hex(value) if isinstance(value, int) else repr(value)


def inline(source: str) -> str:
    """`source` with every protocol constant replaced by its value."""
    tree = ast.parse(source)
    alias, names, imports = None, set(), []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "common":
            if [a.name for a in node.names] == ["proto"]:
                alias = node.names[0].asname or "proto"
                imports.append(node)
        elif isinstance(node, ast.ImportFrom) and node.module == "common.proto":
            if all(a.name in CONSTANTS and not a.asname for a in node.names):
                names = {a.name for a in node.names}
                imports.append(node)
    edits, kept_alias = [], False
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id == alias:
            if node.attr in CONSTANTS and isinstance(node.ctx, ast.Load):
                edits.append((node, _literal(CONSTANTS[node.attr])))
            else:
                kept_alias = True
        elif isinstance(node, ast.Name) and node.id == alias and not _is_attr_base(tree, node):
            kept_alias = True
        elif isinstance(node, ast.Name) and node.id in names and isinstance(node.ctx, ast.Load):
            edits.append((node, _literal(CONSTANTS[node.id])))
    for node in imports:
        if node.module == "common.proto" or not kept_alias:
            edits.append((node, ""))
    return _apply(source, edits)


def _is_attr_base(tree: ast.AST, name: ast.Name) -> bool:
    return any(isinstance(n, ast.Attribute) and n.value is name for n in ast.walk(tree))


def _apply(source: str, edits: list[tuple[ast.AST, str]]) -> str:
    lines = source.encode().splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    data = source.encode()
    spans = sorted(((offsets[n.lineno - 1] + n.col_offset,
                     offsets[n.end_lineno - 1] + n.end_col_offset, text) for n, text in edits),
                   reverse=True)
    for start, end, text in spans:
        data = data[:start] + text.encode() + data[end:]
    return data.decode()
