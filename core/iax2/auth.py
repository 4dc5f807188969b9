"""IAX2 authentication: MD5 and RSA challenge/response, plaintext when configured, and call tokens.

- **MD5** (RFC 5456 §8.6.15): the response is the lowercase hex MD5 of the challenge followed by the secret.
  As chan_iax2 (``authenticate_verify``, ``register_verify``) the check is case-insensitive and a secret may
  be a ``;``-separated list of accepted secrets.  Challenges are decimal random numbers, as Asterisk sends.
- **RSA** (RFC 5456 §8.6.16, Asterisk res_crypto ``ast_sign``/``ast_check_signature``): the SHA-1 digest of
  the challenge signed with PKCS#1 v1.5 by the responder's private key (``outkey``), base64 encoded without
  line breaks; the verifier tries each public key of ``inkeys``.  Asterisk's keys are PEM files named
  ``NAME.key`` (private, possibly passphrase-protected as ``astgenkey`` writes them) and ``NAME.pub``; its
  signatures are 128 bytes, so keys must be 1024-bit (``astgenkey``'s default) to interoperate.
- **Plaintext**: the PASSWORD element, accepted only when the peer's ``auth`` includes plaintext.
- **Call tokens** (chan_iax2 ``handle_call_token``, AST-2009-006): a NEW/REGREQ/REGREL carrying an empty
  CALLTOKEN element is answered with a CALLTOKEN frame holding ``"<seconds>?<sha1 hex>"``, a hash of the
  source address, the time and a per-process secret; the client resends its message with that token and the
  server checks the hash and that the token is at most 10 seconds old (``MAX_CALLTOKEN_DELAY``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import random
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ASTERISK_RSA_BITS = 1024
"""res_crypto's ``ast_sign``/``ast_check_signature`` work on 128-byte signatures."""
CALLTOKEN_MAX_AGE = 10
"""chan_iax2 ``MAX_CALLTOKEN_DELAY`` (seconds)."""


class IaxAuthError(ValueError):
    """A key that cannot be used, or a signature that cannot be made."""


def make_challenge(rng: random.Random) -> str:
    """A challenge as Asterisk makes it: a decimal non-negative 31-bit random number."""
    return str(rng.randrange(0, 2**31))


def md5_response(challenge: str, secret: str) -> str:
    """The MD5 RESULT for ``challenge`` and ``secret`` (lowercase hex of MD5(challenge + secret))."""
    raw = challenge.encode("utf-8", "surrogateescape") + secret.encode("utf-8")
    return hashlib.md5(raw).hexdigest()


def verify_md5(challenge: str, response: str, secrets_list: str) -> str | None:
    """The secret (of a ``;``-separated list) that ``response`` proves, or None (case-insensitive compare)."""
    if not challenge or not response:
        return None
    wanted = response.strip().lower().encode()
    for secret in secrets_list.split(";"):
        if hmac.compare_digest(md5_response(challenge, secret).encode(), wanted):
            return secret
    return None


def verify_plaintext(password: str, secrets_list: str) -> bool:
    """True when the PASSWORD element matches one of the secrets exactly (``strcmp``)."""
    return any(hmac.compare_digest(password.encode(), secret.encode()) for secret in secrets_list.split(";"))


@dataclass(frozen=True, slots=True)
class RsaKey:
    """An Asterisk RSA key: ``name`` as listed in ``inkeys``/``outkey`` and its public or private half."""

    name: str
    public: rsa.RSAPublicKey
    private: rsa.RSAPrivateKey | None = None

    @classmethod
    def from_pem(cls, name: str, pem: bytes, passphrase: bytes | None = None) -> RsaKey:
        """A key from PEM text: a private key (``.key``) or a public key (``.pub``)."""
        try:
            if b"PRIVATE KEY" in pem:
                private = serialization.load_pem_private_key(pem, password=passphrase)
                if not isinstance(private, rsa.RSAPrivateKey):
                    raise IaxAuthError(f"key {name} is not an RSA key")
                return cls(name, private.public_key(), private)
            public = serialization.load_pem_public_key(pem)
        except (ValueError, TypeError) as exc:
            raise IaxAuthError(f"cannot load key {name}: {exc}") from None
        if not isinstance(public, rsa.RSAPublicKey):
            raise IaxAuthError(f"key {name} is not an RSA key")
        return cls(name, public)

    @classmethod
    def load(cls, path: str | Path, passphrase: bytes | None = None) -> RsaKey:
        """Load ``NAME.key`` or ``NAME.pub`` from Asterisk's keys directory (the name is the file's stem)."""
        file = Path(path)
        return cls.from_pem(file.stem, file.read_bytes(), passphrase)

    @classmethod
    def generate(cls, name: str, bits: int = ASTERISK_RSA_BITS) -> RsaKey:
        """A new key pair (what ``astgenkey`` makes), for tests and provisioning."""
        private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        return cls(name, private.public_key(), private)

    def public_pem(self) -> bytes:
        """The public half as ``NAME.pub`` holds it."""
        return self.public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def private_pem(self) -> bytes:
        """The private half as an unencrypted ``NAME.key``."""
        if self.private is None:
            raise IaxAuthError(f"key {self.name} has no private half")
        return self.private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                          serialization.NoEncryption())


def rsa_sign(challenge: str, key: RsaKey) -> str:
    """The RSA RESULT: base64 of the PKCS#1 v1.5 SHA-1 signature of the challenge (``ast_sign``)."""
    if key.private is None:
        raise IaxAuthError(f"key {key.name} is public; signing needs the private key")
    if key.private.key_size != ASTERISK_RSA_BITS:
        raise IaxAuthError(f"key {key.name} is {key.private.key_size}-bit; Asterisk signs with 1024-bit keys")
    signature = key.private.sign(challenge.encode("utf-8", "surrogateescape"), padding.PKCS1v15(), hashes.SHA1())
    return base64.b64encode(signature).decode("ascii")


def rsa_verify(challenge: str, result: str, keys: list[RsaKey]) -> RsaKey | None:
    """The key of ``keys`` whose signature ``result`` is over ``challenge``, or None (``ast_check_signature``)."""
    try:
        signature = base64.b64decode(result.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(signature) != ASTERISK_RSA_BITS // 8:
        return None
    for key in keys:
        try:
            key.public.verify(signature, challenge.encode("utf-8", "surrogateescape"), padding.PKCS1v15(),
                              hashes.SHA1())
        except InvalidSignature:
            continue
        return key
    return None


class CallTokens:
    """Mints and checks call tokens for one endpoint (chan_iax2 ``handle_call_token``)."""

    def __init__(self, secret: bytes, max_age: int = CALLTOKEN_MAX_AGE) -> None:
        self.secret = secret
        self.max_age = max_age

    def _hash(self, host: str, port: int, when: int) -> str:
        message = f"{host}:{port}{when}".encode()
        return hmac.new(self.secret, message, hashlib.sha1).hexdigest()

    def mint(self, source: tuple[str, int], now: float) -> bytes:
        """A token for a client at ``source`` (``now``: the endpoint's clock, seconds)."""
        when = int(now)
        return f"{when}?{self._hash(source[0], source[1], when)}".encode()

    def check(self, token: bytes, source: tuple[str, int], now: float) -> bool:
        """True when ``token`` was minted here for ``source`` less than ``max_age`` seconds ago."""
        text = token.decode("ascii", "replace")
        when_text, sep, digest = text.partition("?")
        if not sep or not when_text.isdigit():
            return False
        when = int(when_text)
        if when > int(now) or int(now) - when > self.max_age:
            return False
        return hmac.compare_digest(digest, self._hash(source[0], source[1], when))
