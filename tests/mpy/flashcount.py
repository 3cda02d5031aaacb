"""Count what a card or terminal asks of its NOR flash: programs (with their sizes) and erases,
on real littlefs (`os.VfsLfs2`), MicroPython only.

A `Flash` is one board's RAM flash (cutblock.CutBlockDev, never armed) formatted with the
board's littlefs geometry and mounted at `root`. `snapshot()` returns the counters so far;
the difference of two snapshots is what the code between them wrote.

    flash = Flash("/card1", ESP32)            # 4 KB erase blocks, 32-byte programs
    before = flash.snapshot()
    ...                                       # code that saves under /card1
    programs, program_bytes, erases = flash.since(before)

The bench (benchscripts/tap.py) turns these into flash time; a test of "at most one erase per
transfer" counts the same way.
"""
import os

from cutblock import CutBlockDev, erased

# (erase block bytes, littlefs progsize) of the boards' filesystems: ESP32 and RP2040 erase
# 4 KB sectors; MicroPython's esp32 port mounts littlefs with the default 32-byte programs,
# the rp2 port with progsize=256 (one NOR page).
ESP32 = (4096, 32)
RP2040 = (4096, 256)
GEOMETRIES = {"esp32": ESP32, "rp2040": RP2040}


class CountingDev(CutBlockDev):
    """CutBlockDev that also adds up the bytes of each program."""

    def __init__(self, data, block_size):
        CutBlockDev.__init__(self, data, block_size)
        self.program_bytes = 0

    def _program(self, block, buf, offset, n):
        self.program_bytes += n
        CutBlockDev._program(self, block, buf, offset, n)


class Flash:
    def __init__(self, root, geometry=ESP32, blocks=32):
        block_size, progsize = geometry
        self.root = root
        self.dev = CountingDev(erased(blocks * block_size), block_size)
        os.VfsLfs2.mkfs(self.dev, progsize=progsize)
        os.mount(os.VfsLfs2(self.dev, progsize=progsize, mtime=False), root)
        self.dev.programs = self.dev.erases = self.dev.program_bytes = 0  # mkfs is not counted

    def snapshot(self):
        d = self.dev
        return d.programs, d.program_bytes, d.erases

    def since(self, before):
        """(programs, program bytes, erases) since `before`."""
        now = self.snapshot()
        return now[0] - before[0], now[1] - before[1], now[2] - before[2]

    def unmount(self):
        os.umount(self.root)
