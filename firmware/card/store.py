"""The card's persistent store: one state record, replaced atomically.

Every change is written to a new file, then renamed over the old one. POSIX and littlefs both
make that rename atomic, so after a power cut at any write the record is either the old state
or the new one, never a mix. A stray `.new` file left by a cut is discarded at load.
"""
import os

_NAME = "state"
_NEW = "state.new"


class Store:
    def __init__(self, root):
        self.root = root.rstrip("/") if len(root) > 1 else root
        self._path = self.root + "/" + _NAME
        self._new = self.root + "/" + _NEW
        try:
            os.mkdir(self.root)
        except OSError:
            pass  # exists

    def load(self):
        """The stored record, or None for a card that has never saved one."""
        try:
            os.remove(self._new)
        except OSError:
            pass
        try:
            with open(self._path, "rb") as f:
                return f.read()
        except OSError:
            return None

    def save(self, record):
        with open(self._new, "wb") as f:
            f.write(record)
        os.rename(self._new, self._path)
