"""The card's persistent store: one state record, replaced atomically.

The record is the file `state` in the card's folder, written through common.atomicfile: a new
file, then a rename over the old one, so after a power cut at any write the record is either the
old state or the new one, never a mix. A stray `state.new` left by a cut is discarded at load.
"""
from common.atomicfile import AtomicFile


class Store(AtomicFile):
    def __init__(self, root):
        AtomicFile.__init__(self, root, "state")
        self.root = self.folder

    # the applet's names for AtomicFile's read and write
    load = AtomicFile.read  # the stored record, or None for a card that has never saved one
    save = AtomicFile.write
