"""The board build: protocol constants folded into the code, and what that buys on the heap."""
from __future__ import annotations

from pathlib import Path

from conftest import run_firmware

from upurse.build import compile_packages
from upurse.inline import inline


def test_constants_are_folded_and_the_import_dropped() -> None:
    src = ("from common import proto as P\n"
           "from micropython import const\n"
           "_N = const(P.MAC_LEN)\n"
           "def f(sw):\n    return sw == P.SW_OK or P.AID\n")
    out = inline(src)
    assert "proto" not in out and "P." not in out
    assert "const(0x10)" in out and "sw == 0x9000" in out and "b'\\xf0upurse\\x01'" in out


def test_names_imported_from_proto_are_folded() -> None:
    out = inline("from common.proto import SW_OK, TAG_CARD_ID\nx = (SW_OK, TAG_CARD_ID)\n")
    assert out.strip() == "x = (0x9000, 0x80)"


def test_a_module_that_uses_proto_itself_keeps_its_import() -> None:
    out = inline("from common import proto as P\nnames = dir(P)\ny = P.SW_OK\n")
    assert "from common import proto as P" in out and "y = 0x9000" in out


def test_compiled_card_and_terminal_never_load_proto(tmp_path: Path) -> None:
    compile_packages(tmp_path, ("common", "card", "terminal"))
    script = tmp_path / "imports.py"
    script.write_text("import sys\nimport card.applet, card.recovery, terminal.settlement\n"
                      "print('proto loaded' if 'common.proto' in sys.modules else 'no proto')\n")
    assert run_firmware("micropython", script, path=(tmp_path,)).strip() == "no proto"
