"""The QEMU board's flash chip: 4 KiB erase blocks whose cells are a host file.

A block device with the extended interface of `os.AbstractBlockDev` (byte offsets, ioctl 6
erases a block), so `os.VfsLfs2` runs on it as on a real board's flash. Each program and erase
goes straight to the host file (semihosting, board module `qemu_board`): when QEMU is killed
mid-command the file holds exactly the writes made so far, like a card losing power. It counts
programs and erases for `make bench`.
"""
import qemu_board
from micropython import const

BLOCK_SIZE = const(4096)  # the erase sector of the NOR flash on RP2040 and ESP32 boards
PROG_SIZE = const(256)  # the flash's program page, littlefs's progsize as rp2 uses it


class Flash:
    def __init__(self, path, blocks, block_size=BLOCK_SIZE):
        self.fd = qemu_board.open(path)
        self.blocks = blocks
        self.block_size = block_size
        self.programs = 0
        self.erases = 0

    def readblocks(self, block, buf, offset=0):
        qemu_board.readinto(self.fd, block * self.block_size + offset, buf)

    def writeblocks(self, block, buf, offset=None):
        if offset is None:  # the simple interface: a whole block, erased first
            self.ioctl(6, block)
            offset = 0
        self.programs += 1
        qemu_board.write(self.fd, block * self.block_size + offset, buf)

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return self.blocks
        if op == 5:  # block size
            return self.block_size
        if op == 6:  # erase
            self.erases += 1
            qemu_board.erase(self.fd, arg * self.block_size, self.block_size)
        return 0
