"""A RAM NOR-flash block device that loses power on cue, for power-cut tests on real littlefs.

It implements the extended `os.AbstractBlockDev` interface (`readblocks`/`writeblocks` with a
byte offset, `ioctl` 1-6 with erase), so `os.VfsLfs2` runs on it unchanged. Flash physics, kept
simple: erase sets a block to 0xFF; program can only clear bits (cell = cell AND data). Every
program and every erase is one numbered *event*; `arm(n, how)` cuts the power at event n from
now: `how` says what part of that event reaches the cells (nothing, a prefix, or every byte
part-way), then `PowerCut` is raised from inside littlefs, abandoning it mid-operation like a
CPU that stops.

From the cut on, the device is `dead`: it detaches from the cells onto a private copy, so
whatever the abandoned code still does (an applet that catches everything, a file finaliser
closing `state.new` during a later `gc.collect()`) runs against a consistent but unseen flash,
never reaches `data`, and never raises or allocates (finalisers run with the heap locked).
`data` survives the cut: a fresh device over the same bytearray is the next boot.

    cells = erased(64 * 512)
    dev = CutBlockDev(cells)
    os.VfsLfs2.mkfs(dev)
    dev.arm(3, TORN)            # the 4th program or erase from now is cut half-done
    ...                         # PowerCut
    os.VfsLfs2(CutBlockDev(cells))   # power back on
"""
import io

from micropython import const

_IOCTL_BLOCK_COUNT = const(4)
_IOCTL_BLOCK_SIZE = const(5)
_IOCTL_BLOCK_ERASE = const(6)

# What part of the interrupted event reaches the cells.
LOST = "lost"  # none of it: power failed as the program or erase began
TORN = "torn"  # its first half of the bytes, the rest untouched (cut mid-page)
NOISY = "noisy"  # every byte part-way: each bit that was to change did so at random
CUTS = (LOST, TORN, NOISY)


class PowerCut(OSError):  # noqa: N818 - an event, not a bug
    """Power failed at a program or erase: what came after never happened."""


def erased(size):
    """A buffer of `size` bytes in the erased state, as flash leaves the factory."""
    return bytearray(b"\xff" * size)


class CutBlockDev:
    def __init__(self, data, block_size=512):
        self.data = data  # the cells: survive the cut, shared with the next boot's device
        self.block_size = block_size
        self.block_count = len(data) // block_size
        self._cells = memoryview(data)
        self._ones = b"\xff" * block_size
        self.events = 0  # programs + erases so far
        self.programs = 0
        self.erases = 0
        self.touched = bytearray(self.block_count)  # 1 where programmed or erased; clear freely
        self.overprogrammed = 0  # bytes programmed while not erased (NOR ANDs them: damage)
        self.dead = False
        self._ghost = None  # the private copy after the cut
        self.cut_at = -1  # event number that fails, -1 for never
        self.how = LOST
        self._noise = 0x2545F491

    def arm(self, n, how=LOST):
        """Cut the power at the `n`th program or erase from now (0 = the next one)."""
        if how not in CUTS:
            raise ValueError(how)
        self.cut_at = self.events + n
        self.how = how

    # The block protocol: littlefs calls these with its own buffers; copy, never keep them.

    def readblocks(self, block, buf, offset=0):
        start = block * self.block_size + offset
        if self.dead:
            self._ghost.seek(start)
            self._ghost.readinto(buf)
            return
        buf[:] = self._cells[start:start + len(buf)]

    def writeblocks(self, block, buf, offset=None):
        if self.dead:
            self._ghost.seek(block * self.block_size + (offset or 0))
            self._ghost.write(buf)
        elif offset is None:  # simple protocol: whole blocks, erase implied
            for i in range(len(buf) // self.block_size):
                self._erase(block + i)
                self._program(block + i, memoryview(buf)[i * self.block_size:], 0,
                              self.block_size)
        else:
            self._program(block, buf, offset, len(buf))

    def ioctl(self, op, arg):
        if op == _IOCTL_BLOCK_COUNT:
            return self.block_count
        if op == _IOCTL_BLOCK_SIZE:
            return self.block_size
        if op == _IOCTL_BLOCK_ERASE:
            if self.dead:
                self._ghost.seek(arg * self.block_size)
                self._ghost.write(self._ones)
            else:
                self._erase(arg)
        return 0  # init, deinit, sync: nothing to do in RAM

    # Events

    def _cutting(self):
        """Count one event; True if the power fails during it."""
        n = self.events
        self.events = n + 1
        return n == self.cut_at

    def _die(self, what):
        """After the cut's partial effect: detach from the cells and stop the caller."""
        self.dead = True
        self._ghost = io.BytesIO(self.data)  # a copy: BytesIO reads and writes allocation-free
        raise PowerCut(f"power cut at event {self.cut_at} ({what}, {self.how})")

    def _program(self, block, buf, offset, n):
        self.programs += 1
        self.touched[block] = 1
        start = block * self.block_size + offset
        cells = self._cells
        if self._cutting():
            if self.how == TORN:
                self._and(start, buf, n // 2)
            elif self.how == NOISY:
                for i in range(n):  # bits to clear clear at random; set bits stay set
                    cells[start + i] &= buf[i] | self._random()
            self._die(f"program block {block} +{offset}, {n} bytes")
        if bytes(cells[start:start + n]) == self._ones[:n]:
            cells[start:start + n] = buf[:n]
        else:
            self._and(start, buf, n)

    def _and(self, start, buf, n):
        cells = self._cells
        for i in range(n):
            old = cells[start + i]
            new = old & buf[i]
            if new != buf[i]:
                self.overprogrammed += 1
            cells[start + i] = new

    def _erase(self, block):
        self.erases += 1
        self.touched[block] = 1
        start = block * self.block_size
        size = self.block_size
        cells = self._cells
        if self._cutting():
            if self.how == TORN:
                cells[start:start + size // 2] = self._ones[:size // 2]
            elif self.how == NOISY:
                for i in range(size):  # bits to set set at random
                    cells[start + i] |= self._random()
            self._die(f"erase block {block}")
        cells[start:start + size] = self._ones

    def _random(self):
        """A byte from a fixed xorshift32 stream: noisy cuts repeat run to run."""
        x = self._noise
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self._noise = x
        return x & 0xFF
