"""Power cuts at every flash write of the card store, on the real littlefs of MicroPython.

Each case cuts one store operation at each of its programs and erases, three ways (nothing,
half, or every byte part-way written: see `cutblock`), and requires the record read back after
reboot to be exactly the one before or the one after. MicroPython only (`os.VfsLfs2`).

    MICROPYPATH=tests/mpy:firmware micropython tests/mpy/powercut_store.py

Prints one line per group and `OK powercut store ...` with the totals.
"""
import os

from cutblock import CUTS, LOST, NOISY, TORN, CutBlockDev, PowerCut, erased
from powercut import Report, Rig, cut_every_write

from card.store import Store

# Record sizes: inline in the directory's metadata (up to block_size/8 = 64 bytes), the first
# size kept in a block of its own, one block, more than a cache, spanning blocks, a CTZ list
SIZES = (16, 64, 65, 200, 512, 1000, 3000)
_RP2_SIZES = (16, 1000, 5000, 9000)  # 4096-byte blocks: inline up to 512 bytes
_CHAIN = 64  # saves in a row, each cut at every write
_WEAR_LIMIT = 1200  # saves to wait for littlefs to move the store's directory (block_cycles)


def record(tag, size):
    """A record that differs from every other tag's at every byte, so a mix shows."""
    return bytes((tag * 31 + i * 7) & 0xFF for i in range(size))


def card(root):
    return Store(root + "/card")


def save(rec):
    return lambda root: card(root).save(rec)


def load(root):
    return card(root).load()


def nothing(root):
    pass


def first_saves():
    """The first record into an empty store: the mkdir and the first file are cut too."""
    total = Report()
    for size in SIZES:
        total.add(cut_every_write(nothing, save(record(1, size)), load))
    return total


def replacements():
    """An existing record replaced by one of each size, from each size."""
    total = Report()
    for old in SIZES:
        for new in SIZES:
            total.add(cut_every_write(save(record(2, old)), save(record(3, new)), load))
    return total


def rp2_geometry():
    """The same on flash shaped as rp2 boards mount it: 4096-byte blocks, 256-byte programs."""
    total = Report()
    for old in _RP2_SIZES:
        for new in _RP2_SIZES:
            rig = Rig(blocks=16, block_size=4096, progsize=256)
            total.add(cut_every_write(save(record(2, old)), save(record(3, new)), load, rig=rig))
    return total


def chain():
    """Saves in a row on one flash: littlefs compacts its metadata and reuses blocks."""
    rig = Rig()
    total = Report()
    for k in range(_CHAIN):
        step = save(record(4 + k, SIZES[k % len(SIZES)] + k))
        total.add(rig.cut_every_write(step, load))
        rig.run(step)
    return total


def wear():
    """The saves around the one where littlefs moves the worn directory pair to new blocks.

    MicroPython sets block_cycles=100: after that many erases a metadata pair is relocated,
    and the parent's pointer to it rewritten in the root pair (blocks 0, 1). Find that save
    uncut, then cut every write of it and of its neighbours.
    """
    rig = Rig()
    dev = rig.boot()
    steps = [save(record(k & 0x7F, 16 + k * 37 % 1200)) for k in range(_WEAR_LIMIT)]
    moved = -1
    for k in range(_WEAR_LIMIT):
        dev.touched[0] = dev.touched[1] = 0
        steps[k](rig.root)
        if k > 2 and (dev.touched[0] or dev.touched[1]):
            moved = k
            break
    rig.halt()
    if moved < 0:
        raise AssertionError("littlefs never relocated the store's directory")
    rig = Rig()  # again, stopping short of the move
    rig.boot()
    for k in range(moved - 3):
        steps[k](rig.root)
    rig.halt()
    total = Report()
    for k in range(moved - 3, moved + 3):
        total.add(rig.cut_every_write(steps[k], load))
        rig.run(steps[k])
    return moved, total


def stray_new():
    """Booting with a `state.new` left by a cut: load removes it; cut that removal too."""
    def leave_stray(root):
        card(root).save(record(5, 300))
        with open(root + "/card/state.new", "wb") as f:
            f.write(record(6, 700))
    return cut_every_write(leave_stray, load, load)


def repeats(how):
    """The harness repeats an operation's writes exactly: the same cut, the same image."""
    images = []
    for _ in range(2):
        rig = Rig()
        rig.run(save(record(7, 1000)))
        dev = rig.boot()
        dev.arm(5, how)
        try:
            card(rig.root).save(record(8, 3000))
        except PowerCut:
            pass
        rig.halt()
        images.append(bytes(rig.cells))
    return images[0] == images[1]


def device_model():
    """The flash model itself: NOR programs, erases, each cut kind, and the dead device."""
    cells = erased(4 * 512)
    dev = CutBlockDev(cells)
    data = bytes(range(64))
    dev.writeblocks(1, data, 0)
    assert cells[512:576] == data and cells[576] == 0xFF
    dev.writeblocks(1, b"\x0f" * 4, 0)  # onto programmed cells: AND, and counted as damage
    assert cells[512:516] == bytes(b & 0x0F for b in data[:4]) and dev.overprogrammed == 4
    dev.ioctl(6, 1)
    assert cells[512:1024] == b"\xff" * 512 and dev.erases == 1 and dev.programs == 2
    for how in CUTS:
        old = bytes(cells)
        dev = CutBlockDev(cells)
        dev.writeblocks(0, data, 0)  # event 0
        dev.arm(0, how)  # the next event
        cut = False
        try:
            dev.writeblocks(0, b"\x00" * 64, 64)  # event 1: cut
        except PowerCut:
            cut = True
        assert cut and dev.dead and dev.events == 2
        landed = cells[64:128]
        if how == LOST:
            assert landed == old[64:128]
        elif how == TORN:
            assert landed == bytes(32) + old[96:128]
        elif how == NOISY:  # only bits to clear moved, and not all of them
            assert all(landed[i] & ~old[64 + i] & 0xFF == 0 for i in range(64))
            assert landed != old[64:128] and landed != bytes(64)
        before = bytes(cells)
        dev.writeblocks(2, data, 0)  # the dead device: unseen by the cells ...
        dev.ioctl(6, 0)
        buf = bytearray(64)
        dev.readblocks(2, buf, 0)
        assert bytes(cells) == before and buf == data  # ... but consistent for its caller
        dev = CutBlockDev(cells)
        dev.arm(0, how)
        try:
            dev.ioctl(6, 0)
        except PowerCut:
            cut = False
        assert not cut
        if how == LOST:
            assert cells[:512] == before[:512]
        elif how == TORN:
            assert cells[:256] == b"\xff" * 256 and cells[256:512] == before[256:512]
        elif how == NOISY:  # only bits to set moved
            assert all(cells[i] & before[i] == before[i] for i in range(512))
            assert cells[:128] != before[:128]
        cells[:] = erased(len(cells))
    return "ok"


def control():
    """A store that flushes half a record before the rest must be caught mixing states."""
    def torn_save(root):
        rec = record(9, 1000)
        with open(root + "/state", "wb") as f:
            f.write(rec[:500])
            f.flush()  # littlefs commits here: a cut after this leaves half a record
            f.write(rec[500:])

    def torn_load(root):
        try:
            with open(root + "/state", "rb") as f:
                return f.read()
        except OSError:
            return None

    try:
        cut_every_write(nothing, torn_save, torn_load)
    except AssertionError as e:
        return str(e).split(":")[0]
    raise AssertionError("the harness missed a store that commits half a record")


def main():
    if not hasattr(os, "VfsLfs2"):
        raise SystemExit("needs MicroPython with os.VfsLfs2 (littlefs v2)")
    total = Report()
    for name, report in (("first", first_saves()), ("replace", replacements()),
                         ("rp2", rp2_geometry()), ("chain", chain()), ("stray", stray_new())):
        print(f"{name}: {report}")
        total.add(report)
    moved, report = wear()
    print(f"wear: directory moved at save {moved}; {report}")
    total.add(report)
    for how in CUTS:
        if not repeats(how):
            raise AssertionError(f"a {how} cut does not repeat")
    print(f"device: {device_model()}")
    print(f"control: caught {control()}")
    print(f"OK powercut store {total}")


main()
