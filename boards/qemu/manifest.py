# The QEMU board's frozen firmware: both roles (one image boots as card, terminal or a test
# script), the board description and its boot, flash and UART modules. Built by
# `make firmware-image BOARD=qemu` (host/upurse/mpbuild.py).
include("../manifest.py", role="all")  # noqa: F821 - manifest files run with these names defined
for name in ("board.py", "qemuboot.py", "flash.py", "cmsdk_uart.py"):
    module(name, opt=3)  # noqa: F821
