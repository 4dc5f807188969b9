"""AES-128 encryption of IAX2 frames as Asterisk's chan_iax2 does it (RFC 5456 §7.4, §8.1.4).

Reproduced from chan_iax2.c (``encrypt_frame``, ``decode_frame``, ``memcpy_encrypt``, ``memcpy_decrypt``,
``build_encryption_keys``, ``decrypt_frame``, ``iax2_key_rotate``, ``merge_encryption``,
``authenticate_request``/``authenticate_reply``):

- the key is ``MD5(challenge + secret)``, the raw 16-byte digest, the challenge being the one of the AUTHREQ;
  a receiver holding several ``;``-separated secrets tries each until one decrypts;
- full frames keep their first 4 bytes (the call numbers) in clear, mini frames their first 2; the rest is
  prefixed with 16 to 31 bytes of padding so that the total is a multiple of 16, the low nibble of the 16th
  byte telling how much padding (``padding - 16``), then AES-128 in CBC mode with an all-zero IV;
- the padding bytes themselves carry no meaning (Asterisk recycles bytes of earlier plaintext as "semi-random"
  padding; here they come from the OS random source, which a receiver cannot tell apart);
- negotiation: the caller offers its ENCRYPTION bits in NEW; the callee keeps one common method (AES-128,
  plus KEYROTATE when both offer it) and returns it in AUTHREQ, which must be MD5 (a challenge and a shared
  secret); from then on both sides encrypt every full and mini frame (the caller's AUTHREP already
  encrypted), ``forceencryption`` hangs up a call that did not negotiate it;
- key rotation (KEYROTATE): the sender picks a new key (MD5 of a random hex string), sends it in the
  CHALLENGE element of an RTKEY encrypted under the old key, then encrypts with the new one; the receiver
  decrypts with the new key from then on, so after a rotation each direction has its own key;
- trunked media is not encrypted by chan_iax2 (``iax2_trunk_queue`` copies raw payloads), so trunking and
  encryption exclude each other: a trunked peer cannot be configured with encryption here.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from core.iax2.constants import Encryption

BLOCK = 16


class IaxCryptoError(ValueError):
    """A frame that cannot be decrypted (wrong length, or padding that does not fit)."""


def derive_key(challenge: str | bytes, secret: str) -> bytes:
    """The AES-128 key of a call: ``MD5(challenge + secret)`` (chan_iax2 ``authenticate``)."""
    raw = challenge.encode("utf-8", "surrogateescape") if isinstance(challenge, str) else challenge
    return hashlib.md5(raw + secret.encode("utf-8")).digest()


def merge_encryption(ours: int, theirs: int) -> int:
    """The methods both sides support, reduced to one cipher as chan_iax2 ``merge_encryption`` does."""
    common = ours & theirs
    if not common & Encryption.AES128:
        return 0
    return int(Encryption.AES128 | (common & Encryption.KEYROTATE))


class AesKey:
    """One AES-128 key; each datagram is CBC-chained from an all-zero IV (``memcpy_encrypt``/``memcpy_decrypt``)."""

    __slots__ = ("key", "_cipher")

    def __init__(self, key: bytes) -> None:
        if len(key) != BLOCK:
            raise ValueError("an IAX2 AES key is 16 bytes")
        self.key = bytes(key)
        self._cipher = Cipher(algorithms.AES(self.key), modes.CBC(bytes(BLOCK)))

    def encrypt_cbc(self, plaintext: bytes) -> bytes:
        """AES-128-CBC with a zero IV, no padding; ``plaintext`` is a multiple of 16 bytes."""
        encryptor = self._cipher.encryptor()
        return encryptor.update(plaintext) + encryptor.finalize()

    def decrypt_cbc(self, ciphertext: bytes) -> bytes:
        """The inverse of :meth:`encrypt_cbc`."""
        decryptor = self._cipher.decryptor()
        return decryptor.update(ciphertext) + decryptor.finalize()


def _clear_size(data: bytes) -> int:
    """4 bytes of call numbers stay in clear on a full frame, 2 on a mini frame."""
    return 4 if data[0] & 0x80 else 2


def encrypt_datagram(key: AesKey, datagram: bytes, pad: Callable[[int], bytes] = secrets.token_bytes) -> bytes:
    """Encrypt a full or mini frame's datagram (``encrypt_frame``)."""
    clear = _clear_size(datagram)
    body = datagram[clear:]
    padding = 16 + ((16 - len(body) % 16) & 0x0F)
    filler = bytearray(pad(padding))
    filler[15] = (filler[15] & 0xF0) | (padding & 0x0F)
    return datagram[:clear] + key.encrypt_cbc(bytes(filler) + body)


def decrypt_datagram(key: AesKey, datagram: bytes) -> bytes:
    """Decrypt a full or mini frame's datagram (``decode_frame``); raises :class:`IaxCryptoError`."""
    clear = _clear_size(datagram)
    body = datagram[clear:]
    header = 12 if clear == 4 else 4
    if len(body) < 16 or len(body) % BLOCK:
        raise IaxCryptoError(f"encrypted part of {len(body)} bytes is not a positive multiple of 16")
    plain = key.decrypt_cbc(body)
    padding = 16 + (plain[15] & 0x0F)
    if len(datagram) < padding + header:
        raise IaxCryptoError("padding longer than the frame")
    return datagram[:clear] + plain[padding:]


def new_rotation_key(rng: Callable[[int], bytes] = secrets.token_bytes) -> bytes:
    """A fresh key for RTKEY: MD5 of a random hex string (chan_iax2 ``iax2_key_rotate``)."""
    return hashlib.md5(rng(8).hex().upper().encode()).digest()


class CallCipher:
    """The encryption state of one call: the key we encrypt with and the one we decrypt with."""

    __slots__ = ("methods", "tx", "rx", "pad", "rotations_sent", "rotations_received")

    def __init__(self, key: bytes, methods: int = Encryption.AES128,
                 pad: Callable[[int], bytes] = secrets.token_bytes) -> None:
        self.methods = methods
        self.tx = AesKey(key)
        self.rx = AesKey(key)
        self.pad = pad
        self.rotations_sent = 0
        self.rotations_received = 0

    @classmethod
    def from_secrets(cls, challenge: str, secret_list: str, datagram: bytes, methods: int,
                     valid: Callable[[bytes], bool]) -> CallCipher | None:
        """The cipher whose secret (one of a ``;``-separated list) decrypts ``datagram`` into a frame that
        ``valid`` accepts, as chan_iax2 ``decrypt_frame`` tries each secret; None if none does."""
        for secret in secret_list.split(";"):
            cipher = cls(derive_key(challenge, secret), methods)
            try:
                plain = cipher.decrypt(datagram)
            except IaxCryptoError:
                continue
            if valid(plain):
                return cipher
        return None

    @property
    def rotates(self) -> bool:
        """True when KEYROTATE was negotiated."""
        return bool(self.methods & Encryption.KEYROTATE)

    def encrypt(self, datagram: bytes) -> bytes:
        """Encrypt an outgoing full or mini frame with the current transmit key."""
        return encrypt_datagram(self.tx, datagram, self.pad)

    def sealer(self) -> Callable[[bytes], bytes]:
        """An encrypter bound to the transmit key of now (retransmissions keep the key of the first sending)."""
        key, pad = self.tx, self.pad
        return lambda datagram: encrypt_datagram(key, datagram, pad)

    def decrypt(self, datagram: bytes) -> bytes:
        """Decrypt an incoming frame with the current receive key."""
        return decrypt_datagram(self.rx, datagram)

    def rotate_tx(self, key: bytes) -> None:
        """Switch our transmit key (after the RTKEY carrying it was sent)."""
        self.tx = AesKey(key)
        self.rotations_sent += 1

    def rotate_rx(self, key: bytes) -> None:
        """Install the peer's new key from an RTKEY it sent."""
        self.rx = AesKey(key)
        self.rotations_received += 1
