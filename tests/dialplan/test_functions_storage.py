"""Where values live: AstDB (func_db.c, func_blacklist.c), GLOBAL, LOCAL/LOCAL_PEEK (app_stack.c), ENV."""

from __future__ import annotations

import logging

import pytest

from core.dialplan.runtime import DialplanOptions, GosubFrame, SimpleEvalContext
from core.dialplan.substitute import assign, substitute
from tests.dialplan.test_substitute import FakeAstDb, make_channel, make_ctx


def run(ctx: SimpleEvalContext, text: str) -> str:
    return substitute(text, ctx)


@pytest.fixture
def db_ctx() -> SimpleEvalContext:
    astdb = FakeAstDb({("cidname", "5551212"): "Pizza Place", ("blacklist", "6661234"): "1",
                       ("blacklist", "Telemarketer"): "1", ("family", "a/b"): "deep",
                       ("keys", "one"): "1", ("keys", "two,2"): "2", ("keys", "sub/x"): "3", ("keys", "sub/y"): "4"})
    return make_ctx(astdb=astdb)


# -- func_db.c -------------------------------------------------------------------------------------------


def test_db_read_sets_db_result(db_ctx: SimpleEvalContext) -> None:
    assert run(db_ctx, "${DB(cidname/5551212)}") == "Pizza Place"
    assert db_ctx.channel.variables["DB_RESULT"] == "Pizza Place"
    assert run(db_ctx, "${DB(family/a/b)}") == "deep"  # the key is everything after the first '/'


def test_db_read_of_a_missing_key_leaves_db_result(db_ctx: SimpleEvalContext) -> None:
    db_ctx.channel.variables["DB_RESULT"] = "old"
    assert run(db_ctx, "${DB(cidname/0000)}") == ""
    assert db_ctx.channel.variables["DB_RESULT"] == "old"


@pytest.mark.parametrize("text", ["${DB()}", "${DB(nofamily)}", "${DB_EXISTS(x)}", "${DB_DELETE()}"])
def test_db_needs_family_and_key(db_ctx: SimpleEvalContext, text: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "centralita.dialplan"):
        assert run(db_ctx, text) == ""
    assert "requires an argument" in caplog.text


def test_db_write(db_ctx: SimpleEvalContext) -> None:
    astdb = db_ctx.astdb
    assert isinstance(astdb, FakeAstDb)
    assign(db_ctx, "DB(test/count)", "1")
    assert astdb.data[("test", "count")] == "1"


def test_db_exists(db_ctx: SimpleEvalContext) -> None:
    assert run(db_ctx, "${DB_EXISTS(cidname/5551212)}") == "1"
    assert db_ctx.channel.variables["DB_RESULT"] == "Pizza Place"
    assert run(db_ctx, "${DB_EXISTS(cidname/0000)}") == "0"
    assert db_ctx.channel.variables["DB_RESULT"] == "Pizza Place"


def test_db_delete(db_ctx: SimpleEvalContext) -> None:
    astdb = db_ctx.astdb
    assert isinstance(astdb, FakeAstDb)
    assert run(db_ctx, "${DB_DELETE(cidname/5551212)}") == "Pizza Place"
    assert ("cidname", "5551212") not in astdb.data
    assert run(db_ctx, "${DB_DELETE(cidname/5551212)}") == ""
    assert db_ctx.channel.variables["DB_RESULT"] == ""  # always set, empty when nothing was there
    assign(db_ctx, "DB_DELETE(keys/one)", "ignored")
    assert ("keys", "one") not in astdb.data


def test_db_keys(db_ctx: SimpleEvalContext) -> None:
    # commas in keys are escaped; deeper keys show their first component once
    assert run(db_ctx, "${DB_KEYS(keys)}") == "one,sub,two\\,2"
    assert run(db_ctx, "${DB_KEYS(/keys/)}") == "one,sub,two\\,2"
    assert run(db_ctx, "${DB_KEYS(nothing)}") == ""


def test_without_an_astdb_every_key_is_missing() -> None:
    ctx = make_ctx()
    assign(ctx, "DB(a/b)", "1")
    assert run(ctx, "${DB(a/b)}|${DB_EXISTS(a/b)}|${BLACKLIST()}") == "|0|0"


@pytest.mark.parametrize(("number", "name", "expected"), [
    # func_blacklist.c: the caller's number or name as a key of family "blacklist"
    ("6661234", "Someone", "1"),
    ("5551212", "Telemarketer", "1"),
    ("5551212", "Friend", "0"),
    ("", "", "0"),
])
def test_blacklist(db_ctx: SimpleEvalContext, number: str, name: str, expected: str) -> None:
    ctx = make_ctx(make_channel(number=number, caller_name=name), astdb=db_ctx.astdb)
    assert run(ctx, "${BLACKLIST()}") == expected


# -- GLOBAL / ENV ----------------------------------------------------------------------------------------


def test_global() -> None:
    ctx = make_ctx()
    assign(ctx, "GLOBAL(TRUNK)", "SIP/itsp")
    assign(ctx, "GLOBAL(__INHERIT)", "x")
    assert ctx.globals == {"TRUNK": "SIP/itsp", "__INHERIT": "x"}
    ctx.channel.variables["TRUNK"] = "channel value"
    assert run(ctx, "${GLOBAL(TRUNK)}|${TRUNK}|${GLOBAL(INHERIT)}|${GLOBAL(NONE)}") == "SIP/itsp|channel value|x|"


def test_env_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CENTRALITA_TEST_ENV", "hello")
    assert run(make_ctx(), "${ENV(CENTRALITA_TEST_ENV)}|${ENV(CENTRALITA_NOT_SET_ENV)}") == "hello|"


def test_env_read_can_be_disabled(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("CENTRALITA_TEST_ENV", "hello")
    ctx = make_ctx(options=DialplanOptions(allow_env_read=False))
    with caplog.at_level(logging.ERROR, "centralita.dialplan"):
        assert run(ctx, "<${ENV(CENTRALITA_TEST_ENV)}>") == "<>"
    assert "Dangerous function ENV read blocked" in caplog.text


def test_env_write_changes_nothing(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("CENTRALITA_TEST_ENV", "hello")
    with caplog.at_level(logging.ERROR, "centralita.dialplan"):
        assign(make_ctx(), "ENV(CENTRALITA_TEST_ENV)", "changed")
    assert run(make_ctx(), "${ENV(CENTRALITA_TEST_ENV)}") == "hello"
    assert "write blocked" in caplog.text


# -- LOCAL -----------------------------------------------------------------------------------------------


def test_local_outside_a_gosub(caplog: pytest.LogCaptureFixture) -> None:
    ctx = make_ctx()
    with caplog.at_level(logging.ERROR, "centralita.dialplan"):
        assign(ctx, "LOCAL(x)", "1")
    assert "Tried to set LOCAL(x), but we aren't within a Gosub routine" in caplog.text
    assert ctx.channel.variables == {}
    assert run(ctx, "<${LOCAL(x)}>") == "<>"


def test_local_is_restored_by_return() -> None:
    ctx = make_ctx()
    variables = ctx.channel.variables
    variables.update({"x": "outer", "_y": "inherited"})
    frame = GosubFrame("internal", "6001", 2)
    ctx.local_frame = frame
    assign(ctx, "LOCAL(x)", "inner")
    assign(ctx, "LOCAL(y)", "hidden")
    assign(ctx, "LOCAL(z)", "new")
    assign(ctx, "LOCAL(x)", "inner2")  # already local: an ordinary set
    assert run(ctx, "${x}|${LOCAL(x)}|${y}|${z}|${LOCAL(w)}") == "inner2|inner2|hidden|new|"
    # LOCAL_PEEK(n,name): 0 is the current value, 1 the one hidden by this frame
    assert run(ctx, "${LOCAL_PEEK(0,x)}|${LOCAL_PEEK(1,x)}|${LOCAL_PEEK(2,x)}|${LOCAL_PEEK(1,z)}") == \
        "inner2|outer||"
    frame.restore(variables)  # what Return does
    ctx.local_frame = None
    assert variables == {"x": "outer", "_y": "inherited"}
    assert run(ctx, "${x}|${y}|${z}") == "outer|inherited|"


def test_local_reads_only_variables_of_the_current_frame() -> None:
    ctx = make_ctx()
    ctx.channel.variables["x"] = "plain"
    ctx.local_frame = GosubFrame("internal", "6001", 2)
    assert run(ctx, "${LOCAL(x)}|${x}") == "|plain"
