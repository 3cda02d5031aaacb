# Freeze the upurse firmware into a custom MicroPython build for the esp32 board (docs/boards.md):
#
#   UPURSE_ROLE=card make -C ports/esp32 BOARD=ESP32_GENERIC \
#       FROZEN_MANIFEST=/path/to/upurse/boards/esp32/manifest.py
#
# then put a one-line /main.py on the flash: `import card.main` (or `import terminal.main`);
# `make flash-card ... FROZEN=1` does that. Or include it from another manifest:
# include("/path/to/upurse/boards/esp32/manifest.py", role="terminal").
import os

options.defaults(role=os.environ.get("UPURSE_ROLE", "card"))  # noqa: F821
include("$(PORT_DIR)/boards/manifest.py")  # noqa: F821 - the port's own frozen modules
include("../manifest.py", role=options.role)  # noqa: F821 - the role's firmware packages
module("board.py", opt=3)  # noqa: F821 - this board's description, read at boot
