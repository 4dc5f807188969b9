"""Authentication (MD5 against iaxmodem's own answer, RSA against openssl) and AES-128 encryption as
chan_iax2 does it, checked against an independent block-by-block rendering of Asterisk's
``memcpy_encrypt``, then on encrypted calls between two endpoints (RFC 5456 §7.4, §8.6.15-16)."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from core.iax2.auth import (
    CallTokens,
    IaxAuthError,
    RsaKey,
    md5_response,
    rsa_sign,
    rsa_verify,
    verify_md5,
    verify_plaintext,
)
from core.iax2.calls import CallHungUp, IncomingCall, VoiceReceived
from core.iax2.constants import AuthMethod, Encryption, FrameType, IaxCommand, InfoElement, MediaFormat
from core.iax2.crypto import (
    AesKey,
    IaxCryptoError,
    decrypt_datagram,
    derive_key,
    encrypt_datagram,
    merge_encryption,
)
from core.iax2.endpoint import IaxEndpoint, IaxEndpointSettings, IaxPeerSettings, IaxUserSettings
from core.iax2.frames import FullFrame, parse_datagram, parse_full
from core.iax2.ies import Ies
from tests.iax2 import A, B, Network, of_type

AES = int(Encryption.AES128)
AES_ROTATE = int(Encryption.AES128 | Encryption.KEYROTATE)


def test_md5_matches_iaxmodem() -> None:
    """iaxmodem answered our REGAUTH challenge 647892279 for secret "password" with this MD5 RESULT."""
    assert md5_response("647892279", "password") == "0ef1d971337f5a266bbb99d05357aa6c"
    assert verify_md5("647892279", "0EF1D971337F5A266BBB99D05357AA6C", "old;password") == "password"
    assert verify_md5("647892279", "0ef1d971337f5a266bbb99d05357aa6c", "other") is None
    assert verify_md5("", "x", "password") is None
    assert verify_plaintext("b", "a;b") and not verify_plaintext("c", "a;b")


def _openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        pytest.fail("openssl not found: install the Debian package openssl")
    return path


def test_rsa_signature_is_openssls_sha1_pkcs1(tmp_path: Path) -> None:
    key = RsaKey.generate("gw")
    (tmp_path / "gw.key").write_bytes(key.private_pem())
    challenge = "214748364"
    (tmp_path / "challenge").write_text(challenge)
    expected = subprocess.run([_openssl(), "dgst", "-sha1", "-sign", str(tmp_path / "gw.key"),
                               str(tmp_path / "challenge")], capture_output=True, check=True, timeout=30).stdout
    ours = rsa_sign(challenge, key)
    assert base64.b64decode(ours) == expected and "\n" not in ours
    public = RsaKey.from_pem("gw", key.public_pem())
    other = RsaKey.generate("other")
    assert rsa_verify(challenge, ours, [other, public]) is public
    assert rsa_verify("214748365", ours, [public]) is None
    assert rsa_verify(challenge, "not base64!", [public]) is None


def test_passphrase_protected_asterisk_key(tmp_path: Path) -> None:
    """astgenkey writes DES3-encrypted private keys; res_crypto asks for the passcode (``keys init``)."""
    path = tmp_path / "gw.key"
    subprocess.run([_openssl(), "genrsa", "-traditional", "-des3", "-passout", "pass:secret", "-out", str(path),
                    "1024"], capture_output=True, check=True, timeout=60)
    key = RsaKey.load(path, passphrase=b"secret")
    assert key.name == "gw" and key.private is not None
    with pytest.raises(IaxAuthError):
        RsaKey.load(path, passphrase=b"wrong")


def test_only_1024_bit_keys_sign() -> None:
    with pytest.raises(IaxAuthError, match="1024"):
        rsa_sign("1", RsaKey.generate("big", bits=2048))
    with pytest.raises(IaxAuthError, match="private"):
        rsa_sign("1", RsaKey.from_pem("pub", RsaKey.generate("x").public_pem()))


def test_call_tokens_expire_and_bind_to_the_address() -> None:
    tokens = CallTokens(b"k" * 32)
    token = tokens.mint(("192.0.2.1", 4569), 100.0)
    assert tokens.check(token, ("192.0.2.1", 4569), 110.0)
    assert not tokens.check(token, ("192.0.2.1", 4569), 111.0)
    assert not tokens.check(token, ("192.0.2.1", 4570), 100.0)
    assert not tokens.check(b"100?" + b"0" * 40, ("192.0.2.1", 4569), 100.0)


# -- the cipher ----------------------------------------------------------------------------------------------

def _asterisk_encrypt(key: bytes, datagram: bytes, pad: bytes) -> bytes:
    """chan_iax2 ``encrypt_frame`` + ``memcpy_encrypt`` written out block by block with a raw AES block."""
    clear = 4 if datagram[0] & 0x80 else 2
    body = datagram[clear:]
    padding = 16 - (len(body) % 16)
    padding = 16 + (padding & 0xF)
    workspace = bytearray(pad[:padding] + body)
    workspace[15] = (workspace[15] & 0xF0) | (padding & 0xF)
    block_cipher = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    out = bytearray()
    current = bytes(16)
    for start in range(0, len(workspace), 16):
        mixed = bytes(a ^ b for a, b in zip(current, workspace[start:start + 16], strict=True))
        current = block_cipher.update(mixed)
        out += current
    return datagram[:clear] + bytes(out)


@pytest.mark.parametrize("payload_size", [0, 1, 3, 4, 15, 16, 17, 160])
def test_encryption_matches_asterisk_byte_for_byte(payload_size: int) -> None:
    key = derive_key("1234567", "s3cret")
    assert key == hashlib.md5(b"1234567s3cret").digest()
    frame = FullFrame(0x1234, 0x0567, 0xDEADBEEF, 7, 9, FrameType.VOICE, int(MediaFormat.ULAW), bytes(payload_size))
    datagram = frame.encode()
    pad = bytes(range(100, 132))
    encrypted = encrypt_datagram(AesKey(key), datagram, lambda n: pad[:n])
    assert encrypted == _asterisk_encrypt(key, datagram, pad)
    assert encrypted[:4] == datagram[:4] and (len(encrypted) - 4) % 16 == 0
    assert 16 <= len(encrypted) - len(datagram) <= 31
    assert decrypt_datagram(AesKey(key), encrypted) == datagram


def test_mini_frames_keep_only_the_call_number_in_clear() -> None:
    key = AesKey(derive_key("9", "x"))
    mini = bytes.fromhex("1234abcd") + b"\x7f" * 160
    encrypted = encrypt_datagram(key, mini, lambda n: bytes(n))
    assert encrypted[:2] == mini[:2] and encrypted[2:4] != mini[2:4]
    assert encrypted == _asterisk_encrypt(key.key, mini, bytes(32))
    assert decrypt_datagram(key, encrypted) == mini


@pytest.mark.parametrize("data", [bytes.fromhex("80010002") + bytes(15), bytes.fromhex("80010002") + bytes(8)])
def test_undecryptable_lengths(data: bytes) -> None:
    with pytest.raises(IaxCryptoError):
        decrypt_datagram(AesKey(bytes(16)), data)


@pytest.mark.parametrize(("ours", "theirs", "agreed"), [
    (AES_ROTATE, AES_ROTATE, AES_ROTATE), (AES_ROTATE, AES, AES), (AES, AES_ROTATE, AES), (AES, 0, 0),
    (0, AES_ROTATE, 0), (int(Encryption.KEYROTATE), AES_ROTATE, 0),
])
def test_encryption_negotiation(ours: int, theirs: int, agreed: int) -> None:
    assert merge_encryption(ours, theirs) == agreed


def test_trunk_and_encryption_exclude_each_other() -> None:
    with pytest.raises(ValueError, match="mutually exclusive"):
        IaxPeerSettings("x", host="192.0.2.9", trunk=True, encryption=AES)


# -- encrypted calls -----------------------------------------------------------------------------------------

def _encrypted_net(peer_enc: int = AES_ROTATE, user_enc: int = AES_ROTATE, user_secret: str = "s3cret",
                   force: bool = False) -> tuple[Network, IaxEndpoint, IaxEndpoint]:
    net = Network()
    a = net.add(A, IaxEndpointSettings(peers=(IaxPeerSettings(
        "b", host=B[0], username="alice", secret="s3cret", encryption=peer_enc, calltoken=False),),
        ping_interval=0, lagrq_interval=0), seed=50)
    b = net.add(B, IaxEndpointSettings(users=(IaxUserSettings(
        "alice", secret=user_secret, encryption=user_enc, force_encryption=force, calltoken=False),),
        ping_interval=0, lagrq_interval=0), seed=51)
    return net, a, b


def test_encrypted_call_everything_after_authreq_is_encrypted() -> None:
    net, a, b = _encrypted_net()
    call = a.call("b", "600", net.now)
    net.pump()
    event = of_type(net.events(b), IncomingCall)[0]
    assert event.encrypted
    b.answer(event.call, net.now)
    net.pump()
    for _ in range(3):
        a.send_voice(call, b"\x33" * 160, net.now)
        b.send_voice(event.call, b"\x44" * 160, net.now)
        net.advance(0.02)
    assert [v.payload for v in of_type(net.events(b), VoiceReceived)] == [b"\x33" * 160] * 3
    assert [v.payload for v in of_type(net.events(a), VoiceReceived)] == [b"\x44" * 160] * 3
    new, authreq = net.wire[0], net.wire[1]
    assert parse_datagram(new.data).is_iax(IaxCommand.NEW)  # type: ignore[union-attr]
    assert parse_datagram(new.data).ies.number(InfoElement.ENCRYPTION) == AES_ROTATE  # type: ignore[union-attr]
    authreq_frame = parse_datagram(authreq.data)
    assert isinstance(authreq_frame, FullFrame) and authreq_frame.is_iax(IaxCommand.AUTHREQ)
    assert authreq_frame.ies.number(InfoElement.ENCRYPTION) == AES_ROTATE
    challenge = authreq_frame.ies.text(InfoElement.CHALLENGE)
    key = AesKey(derive_key(challenge, "s3cret"))
    rest = net.wire[2:]
    assert rest and all((len(s.data) - (4 if s.data[0] & 0x80 else 2)) % 16 == 0 for s in rest)
    authrep = parse_full(decrypt_datagram(key, rest[0].data))  # the AUTHREP itself is encrypted
    assert authrep.is_iax(IaxCommand.AUTHREP) and authrep.ies.text(InfoElement.MD5_RESULT)
    from_b = [parse_full(decrypt_datagram(key, s.data)) for s in rest[:6] if s.source == B]
    assert [f.subclass for f in from_b[:2]] == [IaxCommand.ACK, IaxCommand.ACCEPT]
    # key rotation: each side sent RTKEY before its first voice frame, so the directions now differ
    ours, theirs = a.calls[call].cipher, b.calls[event.call].cipher
    assert ours is not None and theirs is not None
    assert ours.rotations_sent == 1 and ours.rotations_received == 1
    assert ours.tx.key == theirs.rx.key and ours.rx.key == theirs.tx.key and ours.tx.key != ours.rx.key


def test_encryption_without_key_rotation_keeps_one_key() -> None:
    net, a, b = _encrypted_net(peer_enc=AES, user_enc=AES_ROTATE)
    call = a.call("b", "600", net.now)
    net.pump()
    event = of_type(net.events(b), IncomingCall)[0]
    b.answer(event.call, net.now)
    net.pump()
    a.send_voice(call, b"\x01" * 160, net.now)
    net.pump()
    cipher = a.calls[call].cipher
    assert cipher is not None and cipher.rotations_sent == 0 and cipher.tx.key == cipher.rx.key
    assert of_type(net.events(b), VoiceReceived)


def test_receiver_tries_each_secret() -> None:
    net, a, b = _encrypted_net(user_secret="old;s3cret")
    a.call("b", "600", net.now)
    net.pump()
    event = of_type(net.events(b), IncomingCall)[0]
    assert event.encrypted


def test_unencrypted_peer_refused_when_encryption_is_forced() -> None:
    net, a, b = _encrypted_net(peer_enc=0, force=True)
    a.call("b", "600", net.now)
    net.pump()
    assert not of_type(net.events(b), IncomingCall)
    assert of_type(net.events(a), CallHungUp)[0].cause.value == 29


def test_caller_ignoring_encryption_continues_in_clear() -> None:
    """RFC 5456 §7.4 lets a caller continue unencrypted when it does not want encryption after all."""
    net, a, b = _encrypted_net()
    new = FullFrame(9, 0, 0, 0, 0, FrameType.IAX, IaxCommand.NEW, Ies.of(
        (InfoElement.VERSION, 2), (InfoElement.USERNAME, "alice"), (InfoElement.FORMAT, 4),
        (InfoElement.CAPABILITY, 4), (InfoElement.ENCRYPTION, AES)).encode())
    b.receive_datagram(new.encode(), A, net.now)
    authreq = parse_datagram(b.datagrams_to_send()[0][0])
    assert isinstance(authreq, FullFrame) and authreq.ies.number(InfoElement.ENCRYPTION) == AES
    challenge = authreq.ies.text(InfoElement.CHALLENGE)
    authrep = FullFrame(9, authreq.source_call, 5, 1, 1, FrameType.IAX, IaxCommand.AUTHREP, Ies.of(
        (InfoElement.MD5_RESULT, md5_response(challenge, "s3cret"))).encode())
    b.receive_datagram(authrep.encode(), A, net.now)
    event = of_type(net.events(b), IncomingCall)[0]
    assert not event.encrypted


def test_call_with_rsa_authentication() -> None:
    key = RsaKey.generate("gw-a")
    net = Network()
    a = net.add(A, IaxEndpointSettings(peers=(IaxPeerSettings(
        "b", host=B[0], username="alice", outkey="gw-a", calltoken=False),), ping_interval=0, lagrq_interval=0),
        keys={"gw-a": key})
    b = net.add(B, IaxEndpointSettings(users=(IaxUserSettings(
        "alice", auth=AuthMethod.RSA, inkeys=("gw-a",), calltoken=False),), ping_interval=0, lagrq_interval=0),
        keys={"gw-a": RsaKey.from_pem("gw-a", key.public_pem())})
    a.call("b", "600", net.now)
    net.pump()
    assert of_type(net.events(b), IncomingCall)
    authrep = next(f for f in (s.frame() for s in net.wire if s.source == A)
                   if isinstance(f, FullFrame) and f.is_iax(IaxCommand.AUTHREP))
    assert authrep.ies.text(InfoElement.RSA_RESULT) and not authrep.ies.has(InfoElement.MD5_RESULT)
    impostor = net.add(A, IaxEndpointSettings(peers=(IaxPeerSettings(
        "b", host=B[0], username="alice", outkey="gw-a", calltoken=False),)), seed=99,
        keys={"gw-a": RsaKey.generate("gw-a")})
    impostor.call("b", "600", net.now)
    net.pump()
    assert not of_type(net.events(b), IncomingCall)
    assert of_type(net.events(impostor), CallHungUp)


def test_a_key_asterisk_cannot_use_fails_the_call_cleanly() -> None:
    net = Network()
    a = net.add(A, IaxEndpointSettings(peers=(IaxPeerSettings(
        "b", host=B[0], username="alice", outkey="big", calltoken=False),), ping_interval=0, lagrq_interval=0),
        keys={"big": RsaKey.generate("big", bits=2048)})
    b = net.add(B, IaxEndpointSettings(users=(IaxUserSettings(
        "alice", auth=AuthMethod.RSA, inkeys=("big",), calltoken=False),), ping_interval=0, lagrq_interval=0))
    call = a.call("b", "600", net.now)
    net.pump()
    hung = of_type(net.events(a), CallHungUp)
    assert hung and hung[0].call == call and hung[0].reason == "no way to authenticate"
    assert not of_type(net.events(b), IncomingCall)


def test_open_user_cannot_encrypt() -> None:
    """Without a shared secret there is no key: the call goes on in clear (or is refused when forced)."""
    net, a, b = _encrypted_net(user_secret="")
    a.call("b", "600", net.now)
    net.pump()
    assert not of_type(net.events(b), IncomingCall)[0].encrypted
    net, a, b = _encrypted_net(user_secret="", force=True)
    a.call("b", "600", net.now)
    net.pump()
    assert not of_type(net.events(b), IncomingCall)
