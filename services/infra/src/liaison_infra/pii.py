"""Personal data at rest (PIPL): field encryption, blind indexes and masking.

ID-card numbers, phone numbers and addresses are stored as AES-256-GCM tokens that name their key
version, so keys rotate without a migration window: the newest version encrypts, every known version
decrypts, and a background job re-encrypts whatever ``needs_reencryption`` reports. Equality lookups
go through blind indexes (keyed HMACs), never through ciphertext. Each version stores one 32-byte
master secret and derives its data key and index key with HKDF, so the two uses never share a key.
"""

import base64
import contextlib
import hashlib
import hmac
import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SECRET_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
ADDRESS_DIVISIONS_KEPT = 2
# One administrative division: a short name and its kind (province … township, sub-district).
_DIVISION = re.compile(r".{1,7}?(?:自治区|自治州|地区|街道|省|市|盟|区|县|旗|镇|乡)")
_DATA_KEY_INFO = b"liaison.pii.data-key"
_INDEX_KEY_INFO = b"liaison.pii.index-key"
_TOKEN = re.compile(r"v([1-9][0-9]*):([A-Za-z0-9_-]+)")
_VERSION = re.compile(r"v([1-9][0-9]*)")


class PiiError(ValueError):
    """A token or keyring that cannot be used; messages never contain personal data or key material."""


class _Keys(NamedTuple):
    aead: AESGCM
    index_key: bytes


class Keyring:
    """Versioned keys: the current version encrypts and indexes, every known version decrypts."""

    def __init__(self, secrets: Mapping[int, bytes], current: int) -> None:
        if current not in secrets:
            raise PiiError(f"current key version {current} is not in the keyring")
        if any(len(secret) != SECRET_BYTES for secret in secrets.values()):
            raise PiiError(f"every key secret must be {SECRET_BYTES} bytes")
        self.current = current
        self._secrets = dict(secrets)
        self._keys = {
            version: _Keys(AESGCM(_derive(secret, _DATA_KEY_INFO)), _derive(secret, _INDEX_KEY_INFO))
            for version, secret in secrets.items()
        }

    @classmethod
    def from_file(cls, path: Path) -> "Keyring":
        """Read ``{"current": 2, "keys": {"1": "<base64 32 bytes>", "2": "..."}}``."""
        try:
            document = json.loads(path.read_text())
            secrets = {
                int(version): base64.b64decode(secret, validate=True) for version, secret in document["keys"].items()
            }
            return cls(secrets, int(document["current"]))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise PiiError(f"keyring file {path} is malformed: {exc}") from exc

    @property
    def versions(self) -> tuple[int, ...]:
        """Known versions, newest first."""
        return tuple(sorted(self._keys, reverse=True))

    def rotated(self) -> "Keyring":
        """This keyring plus a fresh version that becomes current; older versions stay to decrypt."""
        version = max(self._secrets) + 1
        return Keyring({**self._secrets, version: os.urandom(SECRET_BYTES)}, version)

    def encrypt(self, plaintext: str, *, context: str) -> str:
        """Seal ``plaintext`` as ``v<N>:<base64url(nonce|ciphertext|tag)>``; ``context`` names the field
        (e.g. ``person.id_number``) and is bound as associated data, so a token copied into another
        field does not decrypt. Nonces are random, so equal values give unequal tokens."""
        return f"v{self.current}:{_b64url(self._sealed(plaintext.encode(), context))}"

    def protect(self, value: str, *, context: str, mask: Callable[[str], str]) -> dict[str, str]:
        """A value as stored: encrypted, beside the masked form shown to whoever may not see it."""
        return {"cipher": self.encrypt(value, context=context), "masked": mask(value)}

    def decrypt(self, token: str, *, context: str) -> str:
        """Open a token from ``encrypt``. AES-GCM cannot tell tampering from a wrong context: both fail
        authentication and raise the same ``PiiError``."""
        version, body = self._split(token)
        return self._opened(version, _unb64url(body), context).decode()

    def seal(self, data: bytes, *, context: str) -> bytes:
        """``data`` sealed as ``encrypt`` does, as bytes (``v<N>:`` then nonce, ciphertext and tag):
        for whole files, which base64 would make a third larger."""
        return f"v{self.current}:".encode() + self._sealed(data, context)

    def unseal(self, sealed: bytes, *, context: str) -> bytes:
        """Open bytes from ``seal``; refused as ``decrypt`` refuses."""
        head, _, raw = sealed.partition(b":")
        match = _VERSION.fullmatch(head.decode("ascii", errors="replace"))
        if match is None:
            raise PiiError("not sealed data (expected v<N>: and the sealed bytes)")
        return self._opened(self._known(int(match[1])), raw, context)

    def _sealed(self, data: bytes, context: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._keys[self.current].aead.encrypt(nonce, data, _associated_data(context))

    def _opened(self, version: int, raw: bytes, context: str) -> bytes:
        if len(raw) < NONCE_BYTES + TAG_BYTES:
            raise PiiError("token is too short")
        try:
            return self._keys[version].aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _associated_data(context))
        except InvalidTag as exc:
            raise PiiError(f"token does not authenticate for context {context!r}: tampered or another field's") from exc

    def needs_reencryption(self, token: str) -> bool:
        """Whether ``token`` is sealed under a version other than the current one (older after a
        rotation, or newer after a rollback), so a background job should decrypt and encrypt it again."""
        return self._split(token)[0] != self.current

    def blind_index(self, value: str, *, context: str) -> str:
        """``v<N>:<base64url(HMAC-SHA256)>`` under the current version, for equality lookups.

        Only surrounding whitespace is stripped: normalising (case, full-width digits, the ID-card
        check letter ``x``/``X``, a ``+86`` prefix) is the caller's job and must be the same when
        storing and when searching. ``context`` separates fields, so equal values in two fields
        get unrelated indexes."""
        return self._index(self.current, value, context)

    def blind_indexes(self, value: str, *, context: str) -> list[str]:
        """The index of ``value`` under every known version, newest first: search with ``$in`` on
        these so rows indexed before a rotation are still found until they are re-indexed."""
        return [self._index(version, value, context) for version in self.versions]

    def _index(self, version: int, value: str, context: str) -> str:
        digest = hmac.new(self._keys[version].index_key, _index_message(context, value.strip()), hashlib.sha256)
        return f"v{version}:{_b64url(digest.digest())}"

    def _split(self, token: str) -> tuple[int, str]:
        match = _TOKEN.fullmatch(token)
        if match is None:
            raise PiiError("not an encrypted value (expected v<N>:<base64url>)")
        return self._known(int(match[1])), match[2]

    def _known(self, version: int) -> int:
        if version not in self._keys:
            raise PiiError(f"unknown key version {version}; reload the keyring after a rotation")
        return version

    def _document(self) -> str:
        keys = {str(version): base64.b64encode(secret).decode("ascii") for version, secret in self._secrets.items()}
        return json.dumps({"current": self.current, "keys": keys}, indent=2) + "\n"


def ensure_keyring_file(path: Path) -> Path:
    """Create a keyring with version 1 unless the file exists; the station profile calls this on
    first start, as it does for the JWT key pair. Concurrent first starts agree on one file."""
    if not path.exists():
        with contextlib.suppress(FileExistsError):
            _write(path, Keyring({1: os.urandom(SECRET_BYTES)}, 1), replace=False)
    return path


def rotate(path: Path) -> Keyring:
    """Add a version to the keyring file and make it current. Running processes keep their loaded
    keyring, so restart them all before new tokens reach readers; do not run two rotations at once."""
    keyring = Keyring.from_file(path).rotated()
    _write(path, keyring, replace=True)
    return keyring


def mask_middle(value: str, keep_start: int, keep_end: int, char: str = "*") -> str:
    """Hide all but the ends, keeping the length. A value too short to hide anything between the kept
    ends is masked whole, so a mask never shows a complete value."""
    if keep_start < 0 or keep_end < 0:
        raise ValueError("keep_start and keep_end must not be negative")
    hidden = len(value) - keep_start - keep_end
    if hidden <= 0:
        return char * len(value)
    return value[:keep_start] + char * hidden + value[len(value) - keep_end :]


def mask_phone(phone: str) -> str:
    """``13812345678`` -> ``138****5678``: the carrier prefix and last four, as Chinese apps show them."""
    return mask_middle(phone.strip(), 3, 4)


def mask_address(text: str) -> str:
    """Keep the first two administrative divisions an address starts with (``广东省广州市``,
    ``柳州市鱼峰区``: enough to route and to recognise) and mask the rest; the street, building
    and room stay hidden. An address that starts with its street is masked whole."""
    text = text.strip()
    kept = 0
    for _ in range(ADDRESS_DIVISIONS_KEPT):
        division = _DIVISION.match(text, kept)
        if division is None:
            break
        kept = division.end()
    return mask_middle(text, kept, 0)


def _derive(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


def _associated_data(context: str) -> bytes:
    if not context:
        raise PiiError("context must name the field, e.g. 'person.id_number'")
    return context.encode()


def _index_message(context: str, value: str) -> bytes:
    """Length-prefix the context so no (context, value) pair can collide with another."""
    encoded = _associated_data(context)
    return len(encoded).to_bytes(4, "big") + encoded + value.encode()


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    """Decode strictly: each token has one spelling, so an edited token never passes as the original."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError as exc:
        raise PiiError("token is not valid base64url") from exc
    if _b64url(raw) != text:
        raise PiiError("token is not valid base64url")
    return raw


def _write(path: Path, keyring: Keyring, *, replace: bool) -> None:
    """Write through a temp file that mkstemp creates 0600 and that is synced before it appears, so
    the secrets are never world-readable and a crash never leaves half a keyring (losing it loses
    every encrypted value). Without ``replace``, an existing file wins: os.link never overwrites."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(keyring._document())
            file.flush()
            os.fsync(file.fileno())
        if replace:
            os.replace(temp, path)
        else:
            os.link(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
