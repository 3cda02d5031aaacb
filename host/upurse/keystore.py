"""The issuer's key store: its secrets sealed at rest, opened only with a passphrase or a token.

The secrets are the personalization master key, every transfer and update key generation, the
keys reserved for pre-loaded cards and the password of the CA's private key file. The registry
keeps each one sealed on its own with AES-256-GCM (a fresh 12-byte nonce; the secret's name as
associated data, so a sealed value cannot be moved to another name):

- `passphrase` (the default): the key-encryption key is scrypt(passphrase, salt; N=2^15, r=8,
  p=1), RFC 7914, salt and parameters in the registry. The passphrase comes from the variable
  UPURSE_PASSPHRASE, or is asked on the terminal; never from the command line. A registry made
  without either (tests, `make demo`, scripts) is sealed under the published development
  passphrase DEV_PASSPHRASE, which `issuer init` says loudly: fine for a prototype, worthless
  for real keys.
- `pkcs11`: the key-encryption key is an AES-256 key made inside a PKCS#11 token (SoftHSM2 in
  the tests, an HSM in production), sensitive and never extractable; sealing and opening run in
  the token (CKM_AES_GCM). The user PIN comes from UPURSE_PKCS11_PIN or the terminal.

A check value (a known string sealed at init) tells a wrong passphrase or token from a damaged
secret. The issuer still handles its keys in the clear while it works (it computes session keys
and MACs with the firmware code, and personalizes cards), as a personalization bureau's host
does between HSM calls; what the store protects is the keys at rest, the registry file and its
copies.
"""
from __future__ import annotations

import getpass
import os
import sys
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

DEV_PASSPHRASE = "upurse-dev-insecure"  # published: for tests and demos only
SCRYPT = {"n": 2**15, "r": 8, "p": 1}
_CHECK = b"upurse key store check"
_NONCE = 12
KINDS = ("passphrase", "pkcs11")


class KeyStoreError(Exception):
    """The key store cannot be opened or a secret does not open; one line."""


def scrypt_key(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    """A 256-bit key from a passphrase (RFC 7914)."""
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode())


def seal_with(aead_key: bytes, name: str, secret: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(aead_key).encrypt(nonce, bytes(secret), name.encode())


def open_with(aead_key: bytes, name: str, sealed: bytes) -> bytes:
    try:
        return AESGCM(aead_key).decrypt(sealed[:_NONCE], sealed[_NONCE:], name.encode())
    except InvalidTag:
        raise KeyStoreError(f"the sealed secret {name!r} does not open: damaged, or "
                            "another key store's") from None


def ask(variable: str, what: str, confirm: bool = False) -> str | None:
    """A secret from `variable`, else from the terminal (twice when `confirm`), else None."""
    value = os.environ.get(variable)
    if value is not None:
        return value
    if not sys.stdin.isatty():
        return None
    value = getpass.getpass(f"{what}: ")
    if confirm and getpass.getpass(f"{what} again: ") != value:
        raise KeyStoreError(f"the two {what}s differ")
    return value


class PlainSealer:
    """A registry from before key stores: its secrets are kept as they are."""

    kind = "plain"

    def seal(self, name: str, secret: bytes) -> bytes:
        return bytes(secret)

    def open(self, name: str, sealed: bytes) -> bytes:
        return bytes(sealed)


PLAIN = PlainSealer()


class PassphraseSealer:
    kind = "passphrase"

    def __init__(self, key: bytes) -> None:
        self._key = key

    def seal(self, name: str, secret: bytes) -> bytes:
        return seal_with(self._key, name, secret)

    def open(self, name: str, sealed: bytes) -> bytes:
        return open_with(self._key, name, sealed)


_SESSIONS: dict = {}  # (module, token label) -> the one logged-in session of this process


def _session(module: str, token_label: str, pin: str):
    """A logged-in read-write session on the token; PKCS#11 logs a process in once."""
    import pkcs11

    key = (module, token_label)
    if key not in _SESSIONS:
        token = pkcs11.lib(module).get_token(token_label=token_label)
        _SESSIONS[key] = token.open(user_pin=pin, rw=True)
    return _SESSIONS[key]


class TokenSealer:
    """AES-GCM by a non-extractable key inside a PKCS#11 token."""

    kind = "pkcs11"

    def __init__(self, module: str, token_label: str, key_label: str, pin: str,
                 create: bool = False) -> None:
        import pkcs11
        from pkcs11 import Attribute, KeyType, ObjectClass

        self._gcm = pkcs11.mechanisms.GCMParams
        self._mech = pkcs11.Mechanism.AES_GCM
        try:
            self._session = _session(module, token_label, pin)
            if create:
                self._key = self._session.generate_key(
                    KeyType.AES, 256, label=key_label, store=True,
                    template={Attribute.EXTRACTABLE: False, Attribute.SENSITIVE: True})
            else:
                self._key = self._session.get_key(label=key_label, key_type=KeyType.AES,
                                                  object_class=ObjectClass.SECRET_KEY)
        except pkcs11.exceptions.PinIncorrect:
            raise KeyStoreError(f"wrong PIN for the PKCS#11 token {token_label!r}") from None
        except pkcs11.exceptions.NoSuchToken:
            raise KeyStoreError(f"no PKCS#11 token labelled {token_label!r} in {module}") from None
        except pkcs11.exceptions.NoSuchKey:
            raise KeyStoreError(f"the token {token_label!r} holds no key {key_label!r}") from None
        except (pkcs11.exceptions.PKCS11Error, RuntimeError, OSError) as e:
            raise KeyStoreError(f"PKCS#11 module {module}: {type(e).__name__} {e}".strip()) \
                from None

    def seal(self, name: str, secret: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._key.encrypt(bytes(secret), mechanism=self._mech,
                                         mechanism_param=self._gcm(nonce, name.encode(), 128))

    def open(self, name: str, sealed: bytes) -> bytes:
        import pkcs11

        try:
            return bytes(self._key.decrypt(sealed[_NONCE:], mechanism=self._mech,
                                           mechanism_param=self._gcm(sealed[:_NONCE],
                                                                     name.encode(), 128)))
        except pkcs11.exceptions.PKCS11Error:
            raise KeyStoreError(f"the sealed secret {name!r} does not open under the token's "
                                "key") from None


@dataclass
class Settings:
    """How a registry's secrets are sealed: what `meta` records (nothing secret)."""

    kind: str
    dev: bool = False  # sealed under DEV_PASSPHRASE
    salt: bytes = b""
    module: str = ""
    token_label: str = ""
    key_label: str = ""

    def meta(self) -> dict[str, str]:
        out = {"keystore": self.kind}
        if self.kind == "passphrase":
            out.update(keystore_salt=self.salt.hex(), keystore_dev="1" if self.dev else "0",
                       keystore_scrypt=f"{SCRYPT['n']},{SCRYPT['r']},{SCRYPT['p']}")
        else:
            out.update(keystore_module=self.module, keystore_token=self.token_label,
                       keystore_key=self.key_label)
        return out


def new_settings(kind: str, module: str | None = None, token_label: str | None = None) -> Settings:
    if kind == "pkcs11":
        if not module or not token_label:
            raise KeyStoreError("--key-store pkcs11 needs --pkcs11-module and --pkcs11-token")
        return Settings("pkcs11", module=module, token_label=token_label,
                        key_label="upurse-issuer-kek-" + os.urandom(4).hex())
    return Settings("passphrase", salt=os.urandom(16))


def dev_settings() -> Settings:
    """A passphrase store under DEV_PASSPHRASE, asked of nobody: for demos and test fixtures."""
    return Settings("passphrase", dev=True, salt=os.urandom(16))


def make_sealer(settings: Settings, create: bool = False):
    """Open the store `settings` describes, asking for its passphrase or PIN as needed. With
    `create`, a passphrase store with none given (no variable, no terminal, or an empty answer)
    becomes a development store: `settings.dev` is set, and the caller says so."""
    if settings.kind == "pkcs11":
        pin = ask("UPURSE_PKCS11_PIN", f"PIN of the PKCS#11 token {settings.token_label!r}")
        if pin is None:
            raise KeyStoreError("the issuer's keys are sealed by a PKCS#11 token: set "
                                "UPURSE_PKCS11_PIN or run from a terminal")
        return TokenSealer(settings.module, settings.token_label, settings.key_label, pin,
                           create)
    passphrase = DEV_PASSPHRASE if settings.dev else None
    if passphrase is None:
        what = "issuer key store passphrase" + (" (empty: the insecure development one)"
                                                 if create else "")
        passphrase = ask("UPURSE_PASSPHRASE", what, confirm=create)
        if not passphrase:
            if not create:
                raise KeyStoreError("the issuer's keys are sealed under a passphrase: set "
                                    "UPURSE_PASSPHRASE or run from a terminal")
            settings.dev, passphrase = True, DEV_PASSPHRASE
    return PassphraseSealer(scrypt_key(passphrase, settings.salt, **SCRYPT))


def settings_from(meta: dict[str, str]) -> Settings | None:
    """The store a registry's meta describes; None for a registry from before key stores."""
    kind = meta.get("keystore")
    if kind is None:
        return None
    if kind == "pkcs11":
        return Settings("pkcs11", module=meta["keystore_module"],
                        token_label=meta["keystore_token"], key_label=meta["keystore_key"])
    return Settings("passphrase", dev=meta.get("keystore_dev") == "1",
                    salt=bytes.fromhex(meta["keystore_salt"]))


def check_value(sealer) -> bytes:
    return sealer.seal("check", _CHECK)


def check(sealer, sealed: bytes, settings: Settings) -> None:
    """Raise KeyStoreError naming the likely cause unless the store opens its check value."""
    try:
        ok = sealer.open("check", sealed) == _CHECK
    except KeyStoreError:
        ok = False
    if not ok:
        what = ("wrong PIN or token" if settings.kind == "pkcs11"
                else "wrong passphrase (UPURSE_PASSPHRASE)")
        raise KeyStoreError(f"the issuer's key store does not open: {what}")
