"""Small files replaced whole: the card's store, the terminal's journal, CA key and CRL.

Each write goes to `NAME.new`, then a rename puts it over `NAME`; POSIX and littlefs make the
rename atomic, so after a power cut the file holds the old bytes or the new, never a mix. A
stray `.new` left by a cut is dropped at the next read of an AtomicFile.

    f = AtomicFile("/journal", "records")
    f.write(b"...")
    data = f.read()  # None until the first write
    replace("/crl", data)  # the same write, for a file read some other way
"""
import os


def replace(path, data):
    """Put `data` in the file `path` whole: written to `path.new`, then renamed over `path`.
    `data` is bytes, or a list of byte strings written one after the other, so that a card
    never needs one block the size of its whole record."""
    new = path + ".new"
    with open(new, "wb") as f:
        for piece in data if type(data) is list else (data,):
            f.write(piece)
    os.rename(new, path)


class AtomicFile:
    def __init__(self, folder, name):
        folder = folder.rstrip("/") if len(folder) > 1 else folder
        self.folder = folder
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
        replace(self.path, data)
