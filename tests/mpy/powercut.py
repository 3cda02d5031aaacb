"""Cut the power at every flash write of an operation, on real littlefs, and check what boots.

A `Rig` is one card's RAM flash (see `cutblock`) formatted with the MicroPython build's own
littlefs (`os.VfsLfs2`) and mounted at its root while a step runs. `Rig.cut_every_write` first
runs the operation whole to count its programs and erases (W) and to learn the state after;
then, for each cut kind and each i < W, it restores the flash image from before, cuts the
power at event i, boots again and requires that littlefs mounts, that every file reads back,
that the state `check` reads is exactly the state before or the state after (never a mix),
and that this state outlives the first write after the reboot (littlefs finishes interrupted
work on its first write, so a state that changed then would be a mix seen late).

    rig = Rig()
    rig.run(lambda root: Store(root).save(b"old"))
    report = rig.cut_every_write(lambda root: Store(root).save(b"new"),
                                 lambda root: Store(root).load())
    print(report)   # writes 3 cuts 9 before 9 after 0 overprogrammed 0

With `rotate` as the script's only argument (the QEMU board's run, 13 times slower than the
unix port) each write is still cut, one way only, the ways in turn.

The operation runs unchanged, exceptions and all; one that catches everything (an applet's
6F00 handler) is fine: after the cut the flash is detached and nothing it does reaches the
cells. State that lives only in RAM (a session opened by earlier commands) is rebuilt for each
run by `prepare(root)`, which runs uncut after boot; its result is what `operation` gets
instead of the root path. The operation must repeat itself exactly from the same image (same
writes in the same order); inject any randomness it uses.
"""
import gc
import os
import sys

from cutblock import CUTS, CutBlockDev, erased

ROOT = "/flash"
_DIR = 0x4000  # stat mode bit of a directory in ilistdir
ROTATE = sys.argv[1:] == ["rotate"]


class Report:
    """What cuts saw: W, cut runs, and which state each cut left; `add` sums cases."""

    def __init__(self, writes=0):
        self.writes = writes  # programs + erases of the uncut run(s)
        self.cuts = 0
        self.before = 0
        self.after = 0
        self.overprogrammed = 0  # bytes littlefs programmed over unerased cells, any boot

    def add(self, other):
        self.writes += other.writes
        self.cuts += other.cuts
        self.before += other.before
        self.after += other.after
        self.overprogrammed += other.overprogrammed
        return self

    def __str__(self):
        return (f"writes {self.writes} cuts {self.cuts} before {self.before}"
                f" after {self.after} overprogrammed {self.overprogrammed}")


class Rig:
    """One card's flash, littlefs mounted at `root` while running.

    The default is 64 blocks of 512 bytes with littlefs's default 32-byte programs; rp2 boards
    mount 4096-byte blocks with `progsize=256`.
    """

    def __init__(self, blocks=64, block_size=512, progsize=32, root=ROOT):
        self.cells = erased(blocks * block_size)
        self.block_size = block_size
        self.progsize = progsize
        self.root = root
        self.dev = None  # the device of the boot in progress
        self.overprogrammed = 0  # summed over boots (NOR ANDs such bytes: damage)
        os.VfsLfs2.mkfs(CutBlockDev(self.cells, block_size), progsize=progsize)

    def boot(self):
        """Power on: a fresh device over the cells, littlefs mounted at `root`."""
        self.dev = CutBlockDev(self.cells, self.block_size)
        # no mtime: the same image and operation give the same writes, run after run
        os.mount(os.VfsLfs2(self.dev, progsize=self.progsize, mtime=False), self.root)
        return self.dev

    def halt(self):
        """Power off: unmount and let the finalisers of abandoned files run now."""
        try:
            os.umount(self.root)
        except OSError:
            pass  # not mounted
        gc.collect()
        if self.dev:
            self.overprogrammed += self.dev.overprogrammed
            self.dev = None

    def run(self, step):
        """Boot, run `step(root)` uncut, halt; the flash keeps what it wrote."""
        self.boot()
        try:
            return step(self.root)
        finally:
            self.halt()

    def cut_every_write(self, operation, check, prepare=None, cuts=CUTS):
        """Cut `operation` at each of its flash writes, each way in `cuts`; return a Report.

        `check(root)` reads the state after a reboot (its own writes, such as clearing a stray
        temporary file, are part of booting). The flash is left as it was before.
        """
        image = bytes(self.cells)
        overprogrammed = self.overprogrammed
        self._power(image, prepare, None)
        before = self._reboot(check, "before")
        writes = self._power(image, prepare, operation)
        after = self._reboot(check, f"uncut (W={writes})")
        report = Report(writes)
        runs = [(cuts[i % len(cuts)], i) for i in range(writes)] if ROTATE else \
            [(how, i) for how in cuts for i in range(writes)]
        for how, i in runs:
            where = f"cut {how} at write {i} of {writes}"
            self._power(image, prepare, operation, i, how)
            got = self._reboot(check, where)
            if got == before:
                report.before += 1
            elif got == after:
                report.after += 1
            else:
                raise AssertionError(f"{where}: state is neither before nor after:\n"
                                     f"  before {_show(before)}\n  after  {_show(after)}\n"
                                     f"  got    {_show(got)}")
            report.cuts += 1
        self.cells[:] = image
        report.overprogrammed = self.overprogrammed - overprogrammed
        return report

    def _power(self, image, prepare, operation, cut=-1, how=None):
        """From `image`: boot, prepare, run the operation (cut at event `cut`), halt.

        Returns the operation's count of programs and erases.
        """
        self.cells[:] = image
        dev = self.boot()
        try:
            ctx = prepare(self.root) if prepare else self.root
            start = dev.events
            if cut >= 0:
                dev.arm(cut, how)
            if operation:
                try:
                    operation(ctx)
                except Exception:
                    if not dev.dead:
                        raise  # its own failure, not the cut's
                    # PowerCut, or the operation's own error made of it: moot either way
            if cut >= 0 and not dev.dead:
                raise AssertionError(f"cut {how} at write {cut}: the operation finished first;"
                                     " it does not repeat its writes")
            return dev.events - start
        finally:
            self.halt()

    def _reboot(self, check, where):
        """Boot, check the file system is whole, read the state; it must outlive one write."""
        try:
            self.boot()
        except OSError as e:
            self.halt()
            raise AssertionError(f"{where}: littlefs does not mount: {e!r}") from None
        probe = self.root + "/probe"
        try:
            _read_tree(self.root)
            os.statvfs(self.root)  # walks every block of every file
            got = check(self.root)
            with open(probe + ".new", "wb") as f:
                f.write(b"probe")
            os.rename(probe + ".new", probe)
        finally:
            self.halt()
        self.boot()
        try:
            with open(probe, "rb") as f:
                written = f.read()
            os.remove(probe)
            again = check(self.root)
        finally:
            self.halt()
        if written != b"probe":
            raise AssertionError(f"{where}: a file written after reboot is lost: {written!r}")
        if again != got:
            raise AssertionError(f"{where}: state changed at the first write after reboot:\n"
                                 f"  first {_show(got)}\n  then  {_show(again)}")
        return got


def cut_every_write(setup, operation, check, prepare=None, cuts=CUTS, rig=None):
    """On a fresh flash (or `rig`): `setup(root)` uncut, then `Rig.cut_every_write`."""
    rig = rig or Rig()
    rig.run(setup)
    return rig.cut_every_write(operation, check, prepare, cuts)


def _read_tree(path):
    """Read every file under `path`: littlefs checks its CRCs and block pointers on the way."""
    for entry in os.ilistdir(path):
        name = path + "/" + entry[0]
        if entry[1] == _DIR:
            _read_tree(name)
        else:
            with open(name, "rb") as f:
                while f.read(256):
                    pass


def _show(state):
    """A state for an error message: long byte strings by length and head."""
    if isinstance(state, (bytes, bytearray)) and len(state) > 24:
        return f"<{len(state)} bytes {bytes(state[:12]).hex()}...>"
    text = repr(state)
    return text if len(text) < 300 else text[:300] + "..."
