"""One small file in a folder, always replaced whole (the same scheme as card/store.py).

Each write goes to `NAME.new`, then a rename puts it over `NAME`; POSIX and littlefs make the
rename atomic, so after a power cut the file holds the old bytes or the new, never a mix. A
stray `.new` left by a cut is dropped at the next read.

    f = AtomicFile("/journal", "records")
    f.write(b"...")
    data = f.read()  # None until the first write
"""
import os


class AtomicFile:
    def __init__(self, folder, name):
        folder = folder.rstrip("/") if len(folder) > 1 else folder
        self.path = folder + "/" + name
        self._new = self.path + ".new"
        try:
            os.mkdir(folder)
        except OSError:
            pass  # exists

    def read(self):
        """The file's bytes, or None when it was never written."""
        try:
            os.remove(self._new)
        except OSError:
            pass
        try:
            with open(self.path, "rb") as f:
                return f.read()
        except OSError:
            return None

    def write(self, data):
        with open(self._new, "wb") as f:
            f.write(data)
        os.rename(self._new, self.path)
