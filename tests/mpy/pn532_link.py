"""The PN532 link a rig test board names on its command line: a pty path (the unix port, CPython)
or `cmsdk:N`, the QEMU board's UART N (boards/qemu/cmsdk_uart.py)."""
from drivers.wiring import transport


def link(name):
    if name.startswith("cmsdk:"):
        return transport({"bus": "cmsdk", "id": int(name[6:])})
    return transport({"bus": "pty", "path": name})
