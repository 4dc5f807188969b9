"""Digest authentication: RFC examples, challenger <-> client round trips, stale and replayed nonces,
downgrade attempts, unknown user vs wrong password, hostile input."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.sip import auth
from core.sip.auth import (
    AuthStatus,
    DigestChallenge,
    DigestChallenger,
    DigestError,
    choose_challenge,
    digest_credentials,
    digest_response,
    parse_digest_header,
)

SECRET = b"0123456789abcdef0123456789abcdef"
USERS = {"1001": "s3cret", "1002": 'pa"ss\\word'}
lookup: Callable[[str], str | None] = USERS.get


def _challenger(**kwargs: Any) -> DigestChallenger:
    return DigestChallenger("centralita", SECRET, **kwargs)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _param(header: str, name: str) -> str:
    return parse_digest_header(header)[1][name]


def _answer(challenge: str, *, username: str = "1001", password: str = "s3cret", method: str = "REGISTER",
            uri: str = "sip:pbx.example.net", nc: int = 1) -> str:
    return digest_credentials(challenge, method=method, uri=uri, username=username, password=password, nc=nc)


# -- RFC examples ----------------------------------------------------------------------------------------

RFC7616_CHALLENGE = (
    'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={algorithm}, '
    'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
)


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        # RFC 7616 §3.9.1 (Mufasa / "Circle of Life", GET /dir/index.html, nc=00000001, qop=auth)
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_rfc7616_example(algorithm: str, expected: str) -> None:
    header = digest_credentials(
        RFC7616_CHALLENGE.format(algorithm=algorithm), method="GET", uri="/dir/index.html", username="Mufasa",
        password="Circle of Life", cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    )
    scheme, params = parse_digest_header(header)
    assert scheme == "Digest"
    assert params["response"] == expected
    assert params["qop"] == "auth"  # "auth" preferred over "auth-int"
    assert params["nc"] == "00000001"
    assert params["opaque"] == "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
    assert params["algorithm"] == algorithm
    # The same value from the inputs computed by hand, per RFC 7616 §3.4.1 with hashlib.
    hash_ = _md5 if algorithm == "MD5" else _sha256
    ha1 = hash_("Mufasa:http-auth@example.org:Circle of Life")
    ha2 = hash_("GET:/dir/index.html")
    assert hash_(f"{ha1}:7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v:00000001:"
                 f"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ:auth:{ha2}") == expected


def test_rfc2617_example() -> None:
    # RFC 2617 §3.5: response="6629fae49393a05397450978507c4ef1".
    challenge = ('Digest realm="testrealm@host.com", qop="auth,auth-int", '
                 'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"')
    header = digest_credentials(challenge, method="GET", uri="/dir/index.html", username="Mufasa",
                                password="Circle Of Life", cnonce="0a4f113b")
    assert _param(header, "response") == "6629fae49393a05397450978507c4ef1"
    assert _param(header, "algorithm") == "MD5"  # RFC 7616 §3.3: absent means MD5


def test_rfc2069_mode_without_qop() -> None:
    # RFC 2069 §2.1.2: response = H(H(A1):nonce:H(A2)); no cnonce, nc or qop is sent.
    challenge = 'Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093"'
    header = digest_credentials(challenge, method="GET", uri="/dir/index.html", username="Mufasa",
                                password="Circle Of Life")
    params = parse_digest_header(header)[1]
    expected = _md5(f"{_md5('Mufasa:testrealm@host.com:Circle Of Life')}:dcd98b7102dd2f0e8b11d0f600bfb0c093:"
                    f"{_md5('GET:/dir/index.html')}")
    assert params["response"] == expected
    assert not {"qop", "nc", "cnonce"} & params.keys()


@pytest.mark.parametrize(("algorithm", "hash_"), [("MD5-sess", _md5), ("SHA-256-sess", _sha256)])
def test_session_variants(algorithm: str, hash_: Callable[[str], str]) -> None:
    # RFC 7616 §3.4.2: A1 = H(username:realm:password):nonce:cnonce for the -sess algorithms.
    challenge = f'Digest realm="r", nonce="abc", qop="auth", algorithm={algorithm}'
    header = digest_credentials(challenge, method="INVITE", uri="sip:600@pbx", username="u", password="p",
                                cnonce="xyz", nc=2)
    ha1 = hash_(f"{hash_('u:r:p')}:abc:xyz")
    assert _param(header, "response") == hash_(f"{ha1}:abc:00000002:xyz:auth:{hash_('INVITE:sip:600@pbx')}")


def test_auth_int_hashes_the_body() -> None:
    # RFC 7616 §3.4.3: A2 = method:uri:H(entity-body) for qop=auth-int.
    challenge = 'Digest realm="r", nonce="n", qop="auth-int"'
    body = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n"
    header = digest_credentials(challenge, method="INVITE", uri="sip:600@pbx", username="u", password="p",
                                body=body, cnonce="c")
    ha2 = _md5(f"INVITE:sip:600@pbx:{hashlib.md5(body).hexdigest()}")
    assert _param(header, "qop") == "auth-int"
    assert _param(header, "response") == _md5(f"{_md5('u:r:p')}:n:00000001:c:auth-int:{ha2}")


def test_userhash_when_the_server_asks() -> None:
    # RFC 7616 §3.4.4: username = H(username:realm), userhash=true.
    challenge = 'Digest realm="r", nonce="n", qop="auth", algorithm=SHA-256, userhash=true'
    header = digest_credentials(challenge, method="REGISTER", uri="sip:r", username="1001", password="p",
                                cnonce="c")
    params = parse_digest_header(header)[1]
    assert params["username"] == _sha256("1001:r")
    assert params["userhash"] == "true"
    # The response itself is computed with the clear username.
    assert params["response"] == _sha256(f"{_sha256('1001:r:p')}:n:00000001:c:auth:{_sha256('REGISTER:sip:r')}")


# -- challenger <-> client round trips -----------------------------------------------------------------

def test_challenge_lists_sha256_first_then_md5() -> None:
    challenges = _challenger().challenge(1000.0)
    assert [DigestChallenge.parse(value).algorithm for value in challenges] == ["SHA-256", "MD5"]
    for value in challenges:
        assert value.startswith('Digest realm="centralita", nonce="')
        assert value.endswith('qop="auth"')
        assert "stale" not in value
    # Every challenge has its own nonce.
    assert len({DigestChallenge.parse(value).nonce for value in challenges}) == 2


@pytest.mark.parametrize("index", [0, 1], ids=["SHA-256", "MD5"])
def test_round_trip(index: int) -> None:
    challenger = _challenger()
    challenge = challenger.challenge(1000.0)[index]
    result = challenger.verify("REGISTER", _answer(challenge), lookup, 1001.0)
    assert result.ok
    assert result.username == "1001"
    assert result.algorithm == ("SHA-256", "MD5")[index]


def test_round_trip_with_quotes_and_backslashes_in_credentials() -> None:
    challenger = _challenger()
    header = _answer(challenger.challenge(0.0)[0], username="1002", password='pa"ss\\word')
    assert challenger.verify("REGISTER", header, lookup, 1.0).ok


def test_choose_challenge_takes_the_topmost_supported() -> None:
    challenges = [
        'Basic realm="x"',
        'Digest realm="x", nonce="1", algorithm=SHA-999, qop="auth"',
        'Digest realm="x", nonce="2", algorithm=sha-256, qop="auth"',
        'Digest realm="x", nonce="3", algorithm=MD5, qop="auth"',
    ]
    chosen = choose_challenge(challenges)
    assert chosen is not None
    assert DigestChallenge.parse(chosen).nonce == "2"
    assert DigestChallenge.parse(chosen).algorithm == "SHA-256"  # canonical spelling
    assert choose_challenge(['Basic realm="x"', "Digest garbage"]) is None


def test_increasing_nonce_counts_reuse_a_nonce() -> None:
    challenger = _challenger()
    challenge = challenger.challenge(0.0)[0]
    for nc in (1, 2, 5):
        assert challenger.verify("REGISTER", _answer(challenge, nc=nc), lookup, 1.0).ok


# -- stale nonces -------------------------------------------------------------------------------------

def test_expired_nonce_with_right_password_is_stale() -> None:
    challenger = _challenger(nonce_lifetime=30.0)
    header = _answer(challenger.challenge(100.0)[0])
    result = challenger.verify("REGISTER", header, lookup, 131.0)
    assert result.status is AuthStatus.STALE
    assert result.stale and not result.ok
    again = challenger.challenge(131.0, stale=True)
    assert all(DigestChallenge.parse(value).stale for value in again)
    assert challenger.verify("REGISTER", _answer(again[0]), lookup, 132.0).ok


def test_nonce_exactly_lifetime_old_is_still_fresh() -> None:
    # res_pjsip_authenticator_digest.c check_nonce(): stale only when now - timestamp > nonce_lifetime.
    challenger = _challenger(nonce_lifetime=30.0)
    header = _answer(challenger.challenge(100.0)[0])
    assert challenger.verify("REGISTER", header, lookup, 130.0).ok


def test_expired_nonce_with_wrong_password_is_failed_not_stale() -> None:
    # RFC 7616 §3.3: stale=true only when the digest was valid; Asterisk's verify() likewise.
    challenger = _challenger()
    header = _answer(challenger.challenge(100.0)[0], password="wrong")
    assert challenger.verify("REGISTER", header, lookup, 200.0).status is AuthStatus.FAILED


# -- replays -------------------------------------------------------------------------------------------

def test_replayed_nonce_count_is_refused() -> None:
    challenger = _challenger()
    challenge = challenger.challenge(0.0)[0]
    header = _answer(challenge, nc=1)
    assert challenger.verify("REGISTER", header, lookup, 1.0).ok
    replay = challenger.verify("REGISTER", header, lookup, 2.0)
    assert replay.status is AuthStatus.STALE
    assert "replayed" in replay.reason
    assert challenger.verify("REGISTER", _answer(challenge, nc=3), lookup, 3.0).ok
    assert challenger.verify("REGISTER", _answer(challenge, nc=2), lookup, 4.0).status is AuthStatus.STALE


def test_failed_attempt_does_not_burn_the_nonce_count() -> None:
    # Only verified requests advance nc, so a forger cannot block a client's next count.
    challenger = _challenger()
    challenge = challenger.challenge(0.0)[0]
    assert challenger.verify("REGISTER", _answer(challenge, password="x", nc=9), lookup, 1.0).status \
        is AuthStatus.FAILED
    assert challenger.verify("REGISTER", _answer(challenge, nc=1), lookup, 2.0).ok


def test_replay_memory_expires_with_the_nonces() -> None:
    challenger = _challenger(nonce_lifetime=30.0)
    for second in range(10):
        assert challenger.verify("REGISTER", _answer(challenger.challenge(float(second))[0]), lookup,
                                 float(second)).ok
    assert challenger.tracked_nonces == 10
    assert challenger.verify("REGISTER", _answer(challenger.challenge(100.0)[0]), lookup, 100.0).ok
    assert challenger.tracked_nonces == 1


def test_replay_memory_overflow_answers_old_nonces_stale() -> None:
    challenger = _challenger(max_tracked_nonces=2)
    first = challenger.challenge(0.0)[0]
    assert challenger.verify("REGISTER", _answer(first), lookup, 0.5).ok
    for second in (1.0, 2.0):
        assert challenger.verify("REGISTER", _answer(challenger.challenge(second)[0]), lookup, second).ok
    assert challenger.tracked_nonces == 2
    # The first nonce's entry was dropped: it must not become replayable.
    assert challenger.verify("REGISTER", _answer(first, nc=1), lookup, 3.0).status is AuthStatus.STALE


def test_rfc2069_server_mode_accepts_each_nonce_once() -> None:
    challenger = _challenger(qop=None)
    challenge = challenger.challenge(0.0)[0]
    assert "qop" not in challenge
    header = _answer(challenge)
    assert "qop=" not in header
    assert challenger.verify("REGISTER", header, lookup, 1.0).ok
    assert challenger.verify("REGISTER", header, lookup, 2.0).status is AuthStatus.STALE


# -- things that must fail -------------------------------------------------------------------------------

def test_wrong_realm() -> None:
    challenger = _challenger()
    nonce = DigestChallenge.parse(challenger.challenge(0.0)[0]).nonce
    forged = f'Digest realm="other", nonce="{nonce}", algorithm=SHA-256, qop="auth"'
    result = challenger.verify("REGISTER", _answer(forged), lookup, 1.0)
    assert result.status is AuthStatus.FAILED
    assert "realm" in result.reason


def test_wrong_uri() -> None:
    challenger = _challenger()
    header = _answer(challenger.challenge(0.0)[0], uri="sip:pbx.example.net")
    # Credentials made for one Request-URI are refused for another (RFC 7616 §3.4.6) ...
    result = challenger.verify("REGISTER", header, lookup, 1.0, request_uri="sip:other.example.net")
    assert result.status is AuthStatus.FAILED
    assert "Request-URI" in result.reason
    # ... and a uri edited in transit no longer matches the response.
    tampered = header.replace('uri="sip:pbx.example.net"', 'uri="sip:600@pbx.example.net"')
    assert challenger.verify("REGISTER", tampered, lookup, 1.0).status is AuthStatus.FAILED
    assert challenger.verify("REGISTER", header, lookup, 1.0, request_uri="sip:pbx.example.net").ok


def test_wrong_method() -> None:
    challenger = _challenger()
    header = _answer(challenger.challenge(0.0)[0], method="REGISTER")
    assert challenger.verify("INVITE", header, lookup, 1.0).status is AuthStatus.FAILED


def test_downgrade_to_an_algorithm_not_offered() -> None:
    challenger = _challenger(algorithms=("SHA-256",))
    nonce = DigestChallenge.parse(challenger.challenge(0.0)[0]).nonce
    md5 = f'Digest realm="centralita", nonce="{nonce}", algorithm=MD5, qop="auth"'
    result = challenger.verify("REGISTER", _answer(md5), lookup, 1.0)
    assert result.status is AuthStatus.FAILED
    assert "not offered" in result.reason


def test_downgrade_by_reusing_a_sha256_nonce_for_md5() -> None:
    challenger = _challenger()  # offers both
    sha_nonce = DigestChallenge.parse(challenger.challenge(0.0)[0]).nonce
    for algorithm in ("algorithm=MD5, ", ""):  # explicit MD5, or no algorithm (= MD5)
        forged = f'Digest realm="centralita", nonce="{sha_nonce}", {algorithm}qop="auth"'
        result = challenger.verify("REGISTER", _answer(forged), lookup, 1.0)
        assert result.status is AuthStatus.FAILED
        assert "nonce" in result.reason


def test_session_variant_not_offered() -> None:
    challenger = _challenger()
    nonce = DigestChallenge.parse(challenger.challenge(0.0)[0]).nonce
    forged = f'Digest realm="centralita", nonce="{nonce}", algorithm=SHA-256-sess, qop="auth"'
    assert challenger.verify("REGISTER", _answer(forged), lookup, 1.0).status is AuthStatus.FAILED


@pytest.mark.parametrize(
    "nonce",
    [
        "AAAAAAAAA-gDx2k0Ey0AAAAAAAAAAAAAAAAAAAAAAAA",  # right shape, no valid MAC
        "1700000000/0123456789abcdef0123456789abcdef",  # Asterisk-style nonce, not ours
        "",
    ],
)
def test_forged_nonce(nonce: str) -> None:
    challenger = _challenger()
    forged = f'Digest realm="centralita", nonce="{nonce}", algorithm=SHA-256, qop="auth"'
    result = challenger.verify("REGISTER", _answer(forged), lookup, 1.0)
    assert result.status is AuthStatus.FAILED
    assert "nonce was not issued here" in result.reason


def test_nonce_from_another_secret() -> None:
    other = DigestChallenger("centralita", b"another secret of enough length!")
    challenger = _challenger()
    assert challenger.verify("REGISTER", _answer(other.challenge(0.0)[0]), lookup, 1.0).status \
        is AuthStatus.FAILED
    # ... while a second process with the same secret accepts ours (stateless nonces).
    assert _challenger().verify("REGISTER", _answer(challenger.challenge(0.0)[0]), lookup, 1.0).ok


def test_non_canonical_nonce_spelling() -> None:
    challenger = _challenger()
    challenge = challenger.challenge(0.0)[0]
    nonce = DigestChallenge.parse(challenge).nonce
    # Flip the unused low bits of the last base64 character: same bytes, another string.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    index = alphabet.index(nonce[-1])
    twin = nonce[:-1] + alphabet[index ^ 1]
    assert twin != nonce
    forged = challenge.replace(nonce, twin)
    result = challenger.verify("REGISTER", _answer(forged), lookup, 1.0)
    assert result.status is AuthStatus.FAILED
    assert "nonce was not issued here" in result.reason


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda h: h.replace(", qop=auth", ""), "qop"),
        (lambda h: h.replace("qop=auth", "qop=auth-int"), "qop"),
        (lambda h: h.replace("nc=00000001", "nc=1"), "nc"),
        (lambda h: h.replace("nc=00000001", "nc=00000000"), "nc"),
        (lambda h: h.replace('cnonce="', 'xnonce="'), "cnonce"),
        (lambda h: h.replace('username="1001"', 'username*=UTF-8\'\'1001'), "username*"),
        (lambda h: h + ", userhash=true", "userhash"),
        (lambda h: h.replace("Digest ", "Basic "), "scheme"),
        (lambda h: h + ', realm="again"', "duplicate"),
    ],
)
def test_malformed_credentials(edit: Callable[[str], str], reason: str) -> None:
    challenger = _challenger()
    header = edit(_answer(challenger.challenge(0.0)[0]))
    result = challenger.verify("REGISTER", header, lookup, 1.0)
    assert result.status is AuthStatus.FAILED
    assert reason in result.reason


# -- unknown user vs wrong password --------------------------------------------------------------------

def test_unknown_user_and_wrong_password_run_the_same_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """Structural timing check: the same number of hash computations and lookups on both paths."""
    real = auth._hex_digest
    calls: list[str] = []

    def spy(base_algorithm: str, data: bytes) -> str:
        calls.append(base_algorithm)
        return real(base_algorithm, data)

    monkeypatch.setattr(auth, "_hex_digest", spy)
    lookups: list[str] = []

    def counting_lookup(name: str) -> str | None:
        lookups.append(name)
        return USERS.get(name)

    observed = []
    for username, password in (("9999", "s3cret"), ("1001", "wrong")):  # unknown user; wrong password
        challenger = _challenger(algorithms=("SHA-256-sess", "MD5"))
        for challenge in challenger.challenge(0.0):
            header = _answer(challenge, username=username, password=password)
            calls.clear()
            lookups.clear()
            result = challenger.verify("REGISTER", header, counting_lookup, 1.0)
            observed.append((result.status, list(calls), len(lookups)))
    unknown, wrong = observed[:2], observed[2:]
    assert unknown == wrong
    assert all(status is AuthStatus.FAILED for status, _, _ in unknown)
    assert [len(hashes) for _, hashes, _ in unknown] == [4, 3]  # -sess hashes once more


def test_unknown_user_with_stale_nonce_is_failed_like_a_wrong_password() -> None:
    challenger = _challenger()
    challenge = challenger.challenge(0.0)[0]
    unknown = challenger.verify("REGISTER", _answer(challenge, username="9999"), lookup, 500.0)
    wrong = challenger.verify("REGISTER", _answer(challenge, password="x"), lookup, 500.0)
    assert unknown.status is wrong.status is AuthStatus.FAILED


# -- parsing -------------------------------------------------------------------------------------------

def test_parse_quoted_strings_escapes_and_case() -> None:
    scheme, params = parse_digest_header(
        'digest  USERNAME="a\\"b\\\\c" ,, Realm = "x, y" ,nonce=abc/def+=,qop=auth,  uri="sip:a@b;x=\\"y\\""'
    )
    assert scheme == "digest"
    assert params == {"username": 'a"b\\c', "realm": "x, y", "nonce": "abc/def+=", "qop": "auth",
                      "uri": 'sip:a@b;x="y"'}


@pytest.mark.parametrize(
    "value",
    ["", "   ", 'Digest realm="x', 'Digest realm="x" nonce="y"', "Digest =x", "Digest realm", "Digest realm=",
     'Digest realm="a\\', 'Digest a=1, a=2', 'Digest, realm="x"', "x" * 9000],
)
def test_parse_errors_carry_a_position(value: str) -> None:
    with pytest.raises(DigestError) as info:
        parse_digest_header(value)
    assert info.value.position is not None


def test_client_refuses_what_it_cannot_answer() -> None:
    with pytest.raises(DigestError):
        digest_credentials('Digest realm="r", nonce="n", algorithm=SHA-999', method="REGISTER", uri="sip:r",
                           username="u", password="p")
    with pytest.raises(DigestError):  # -sess needs a cnonce, which needs qop
        digest_credentials('Digest realm="r", nonce="n", algorithm=MD5-sess', method="REGISTER", uri="sip:r",
                           username="u", password="p")
    with pytest.raises(DigestError):
        digest_credentials('Digest realm="r", nonce="n", qop="auth-conf"', method="REGISTER", uri="sip:r",
                           username="u", password="p")
    with pytest.raises(DigestError):  # header injection
        digest_credentials('Digest realm="r", nonce="n", qop="auth"', method="REGISTER", uri="sip:r",
                           username="u\r\nVia: x", password="p")
    with pytest.raises(DigestError):
        digest_credentials('Basic realm="r"', method="REGISTER", uri="sip:r", username="u", password="p")


_header_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=300)
_param_soup = st.lists(
    st.tuples(
        st.sampled_from(["username", "realm", "nonce", "uri", "response", "algorithm", "qop", "nc", "cnonce",
                         "opaque", "userhash", "username*", "Response", "x"]),
        st.one_of(st.text(max_size=40), st.sampled_from(["auth", "00000001", "MD5", "SHA-256", "centralita"])),
        st.booleans(),
    ),
    max_size=12,
).map(lambda items: "Digest " + ", ".join(
    f'{name}="{value}"' if quoted else f"{name}={value}" for name, value, quoted in items))


@settings(max_examples=400, deadline=None)
@given(st.one_of(_header_text, _param_soup), st.sampled_from(["REGISTER", "INVITE", ""]))
def test_verify_never_raises_on_hostile_input(header: str, method: str) -> None:
    challenger = _challenger()
    result = challenger.verify(method, header, lookup, 1.0)
    assert result.status is AuthStatus.FAILED


@settings(max_examples=300, deadline=None)
@given(_header_text)
def test_parse_raises_only_digest_error(header: str) -> None:
    try:
        parse_digest_header(header)
    except DigestError:
        pass


@settings(max_examples=150, deadline=None)
@given(
    st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x00"), min_size=1, max_size=20),
    st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x00"), max_size=20),
    st.sampled_from([0, 1]),
    st.integers(1, 0xFFFFFFFF),
)
def test_round_trip_any_credentials(username: str, password: str, index: int, nc: int) -> None:
    challenger = _challenger()
    challenge = challenger.challenge(0.0)[index]
    header = digest_credentials(challenge, method="INVITE", uri="sip:600@pbx", username=username,
                                password=password, nc=nc)
    result = challenger.verify("INVITE", header, {username: password}.get, 1.0)
    assert result.ok
    assert result.username == username


def test_octets_that_are_not_utf8() -> None:
    # A parser that decodes with errors="surrogateescape" hands over lone surrogates; the digest is
    # computed over the original octets, so a Latin-1 username still authenticates ...
    challenger = _challenger()
    latin1_user = b"Jos\xe9".decode("utf-8", "surrogateescape")
    header = _answer(challenger.challenge(0.0)[0], username=latin1_user, password="pw")
    assert challenger.verify("REGISTER", header, {latin1_user: "pw"}.get, 1.0).ok
    expected_ha1 = hashlib.sha256(b"Jos\xe9:centralita:pw").hexdigest()
    params = parse_digest_header(header)[1]
    ha2 = _sha256("REGISTER:sip:pbx.example.net")
    assert params["response"] == _sha256(
        f"{expected_ha1}:{params['nonce']}:00000001:{params['cnonce']}:auth:{ha2}")
    # ... and a surrogate that cannot be encoded at all is a plain failure, not an exception.
    broken = header.replace(latin1_user, "Jos\ud800")
    assert challenger.verify("REGISTER", broken, lookup, 1.0).status is AuthStatus.FAILED


def test_digest_response_rejects_unknown_algorithm() -> None:
    with pytest.raises(DigestError):
        digest_response("SHA-1", username="u", realm="r", password="p", method="M", uri="u", nonce="n", qop=None)


# -- H(A1) kept per user and password; salts drawn ahead ------------------------------------------------------

def test_a_changed_password_takes_effect_at_once() -> None:
    """H(A1) is computed once per user and password: after a reload the old password stops working."""
    passwords = {"1001": "old-secret"}
    challenger = _challenger()
    challenge = challenger.challenge(0.0)[0]
    assert challenger.verify("REGISTER", _answer(challenge, password="old-secret"), passwords.get, 1.0).ok
    passwords["1001"] = "new-secret"
    for password, ok in (("old-secret", False), ("new-secret", True)):
        challenge = challenger.challenge(2.0)[0]
        assert challenger.verify("REGISTER", _answer(challenge, password=password), passwords.get, 3.0).ok is ok


def test_later_requests_hash_as_much_for_an_unknown_user_as_for_a_wrong_password(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Once H(A1) is known, a known user (wrong password) and an unknown one cost the same hashes: none for A1."""
    real = auth._hex_digest
    calls: list[str] = []

    def spy(base_algorithm: str, data: bytes) -> str:
        calls.append(base_algorithm)
        return real(base_algorithm, data)

    monkeypatch.setattr(auth, "_hex_digest", spy)
    challenger = _challenger()
    counts = []
    for username, password in (("9999", "x"), ("1001", "wrong"), ("9998", "y"), ("1001", "wrong"), ("1001", "s3cret")):
        header = _answer(challenger.challenge(0.0)[0], username=username, password=password)
        calls.clear()
        result = challenger.verify("REGISTER", header, lookup, 1.0)
        counts.append((result.status, len(calls)))
    # the first of each kind computes H(A1); afterwards every path hashes H(A2) and the response only
    assert counts == [(AuthStatus.FAILED, 3), (AuthStatus.FAILED, 3), (AuthStatus.FAILED, 2), (AuthStatus.FAILED, 2),
                      (AuthStatus.OK, 2)]


def test_nonces_issued_in_the_same_millisecond_differ() -> None:
    drawn: list[int] = []
    counter = iter(range(1, 1 << 32))

    def counting_random(n: int) -> bytes:
        drawn.append(n)
        return b"".join(next(counter).to_bytes(8, "big") for _ in range(n // 8))

    challenger = _challenger(algorithms=("SHA-256", "MD5"), random_bytes=counting_random)
    challenges = [value for _ in range(100) for value in challenger.challenge(5.0)]
    assert len({_param(value, "nonce") for value in challenges}) == 200
    assert len(drawn) < 10  # drawn ahead, not one system call per nonce
    # every one of them answers: the salt is part of what the MAC covers
    for value in challenges[-4:]:
        assert challenger.verify("REGISTER", _answer(value), lookup, 5.5).ok


def test_a_short_random_source_is_an_error() -> None:
    challenger = _challenger(random_bytes=lambda n: b"\x00" * (n - 1))
    with pytest.raises(ValueError, match="random_bytes"):
        challenger.challenge(0.0)
