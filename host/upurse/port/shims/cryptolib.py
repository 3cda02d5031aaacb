"""CPython stand-in for MicroPython's `cryptolib`, on top of `cryptography`.

Same surface as the firmware uses: `aes(key, mode, iv=None)` with `encrypt`/`decrypt` that
keep CBC state between calls, one direction per object, as on MicroPython.
"""
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

MODE_ECB = 1
MODE_CBC = 2


class aes:  # noqa: N801 - MicroPython's name
    def __init__(self, key, mode, iv=None):
        if mode == MODE_ECB:
            cipher = Cipher(algorithms.AES(bytes(key)), modes.ECB())
        elif mode == MODE_CBC:
            cipher = Cipher(algorithms.AES(bytes(key)), modes.CBC(bytes(iv or bytes(16))))
        else:
            raise ValueError("mode")
        self._cipher = cipher
        self._ctx = None

    def _run(self, direction, data, out):
        if len(data) % 16:
            raise ValueError("blksize")
        if self._ctx is None:
            self._ctx = self._cipher.encryptor() if direction else self._cipher.decryptor()
            self._direction = direction
        elif self._direction != direction:
            raise OSError("can't encrypt and decrypt with same object")
        result = self._ctx.update(bytes(data))
        if out is None:
            return result
        out[: len(result)] = result
        return None

    def encrypt(self, data, out=None):
        return self._run(True, data, out)

    def decrypt(self, data, out=None):
        return self._run(False, data, out)
