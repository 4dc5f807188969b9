"""Configuration validation as an operator meets it: FILE:LINE messages from check-config."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from firmware.config import DEFAULT_CONFIG, ConfigError, control_socket_path, data_dir, load_config
from tests.support import run_centralita


@pytest.fixture
def config_copy(tmp_path: Path) -> Path:
    """A copy of the embedded default next to its dialplan, ready to be broken."""
    shutil.copy(DEFAULT_CONFIG.parent / "extensions.conf", tmp_path / "extensions.conf")
    target = tmp_path / "centralita.toml"
    shutil.copy(DEFAULT_CONFIG, target)
    return target


def edit_line(path: Path, number: int, transform: object) -> str:
    lines = path.read_text().splitlines(keepends=True)
    old = lines[number - 1]
    lines[number - 1] = transform(old)  # type: ignore[operator]
    path.write_text("".join(lines))
    return old


def issues_of(path: Path, *overrides: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    return [str(i) for i in info.value.issues]


def test_default_configuration_passes_check_config() -> None:
    result = run_centralita("check-config")
    assert result.returncode == 0, result.stderr
    assert "configuration OK" in result.stdout


def test_default_configuration_has_the_contract_keys() -> None:
    config = load_config()
    assert config.board.profile == "sim-2fxs-2fxo"
    assert config.sip.port == 5060 and config.sip.bind == "0.0.0.0"
    assert (config.rtp.port_min, config.rtp.port_max) == (10000, 20000)
    assert [u.name for u in config.sip.users] == ["1001", "1002", "1003", "1004"]
    assert config.dialplan.file == DEFAULT_CONFIG.parent / "extensions.conf"


def test_misspelt_key_on_line_7_is_reported_with_line_and_suggestion(config_copy: Path) -> None:
    original = edit_line(config_copy, 7, lambda line: line)
    key = re.match(r"\s*([A-Za-z_]+)\s*=", original)
    assert key, f"line 7 of the default should be a key, is {original!r}"
    misspelt = key.group(1)[0] + key.group(1)[2] + key.group(1)[1] + key.group(1)[3:]
    edit_line(config_copy, 7, lambda line: line.replace(key.group(1), misspelt, 1))

    result = run_centralita("check-config", str(config_copy))

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{config_copy}:7: unknown key '{misspelt}' in [log]; did you mean '{key.group(1)}'?"
    ]


def test_wrong_type_is_reported_at_its_line(config_copy: Path) -> None:
    text = config_copy.read_text()
    line = text.splitlines().index("port = 5060                 # UDP and TCP") + 1
    edit_line(config_copy, line, lambda old: old.replace("5060", '"5060"'))

    result = run_centralita("check-config", str(config_copy))

    assert result.returncode == 2
    assert f'{config_copy}:{line}: sip.port: expected an integer, got a string ("5060")' in result.stderr


def test_out_of_range_and_cross_field_errors_are_all_reported(config_copy: Path) -> None:
    text = config_copy.read_text().replace("port_min = 10000", "port_min = 30000")
    text = text.replace("port = 5060 ", "port = 70000")
    config_copy.write_text(text)
    lines = text.splitlines()
    port_line = next(i for i, text_line in enumerate(lines, 1) if text_line.startswith("port = 70000"))
    max_line = next(i for i, text_line in enumerate(lines, 1) if text_line.startswith("port_max"))

    issues = issues_of(config_copy)

    assert f"{config_copy}:{port_line}: sip.port: 70000 is out of range (0..65535)" in issues
    assert (f"{config_copy}:{max_line}: rtp.port_max (20000) must be above rtp.port_min (30000)"
            in issues)


def test_unknown_section_suggests_the_right_one(config_copy: Path) -> None:
    config_copy.write_text(config_copy.read_text().replace("[rtp]", "[rpt]"))
    line = config_copy.read_text().splitlines().index("[rpt]") + 1
    assert issues_of(config_copy) == [f"{config_copy}:{line}: unknown section [rpt]; did you mean [rtp]?"]


def test_choice_and_bool_errors(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    (tmp_path / "extensions.conf").write_text("")
    path.write_text('[log]\nlevel = "verbose"\n[sip]\nbind = "localhost"\n')
    assert issues_of(path) == [
        f"{path}:2: log.level: 'verbose' is not one of debug, info, warning, error",
        f"{path}:4: sip.bind: 'localhost' is not an IPv4 or IPv6 address",
    ]


def test_missing_required_key_in_array_of_tables_points_at_its_header(tmp_path: Path) -> None:
    (tmp_path / "extensions.conf").write_text("")
    path = tmp_path / "c.toml"
    path.write_text('[[sip.users]]\nname = "1001"\nsecret = "x"\n\n[[sip.users]]\nname = "1002"\n')
    assert issues_of(path) == [f"{path}:5: [[sip.users]] entry 2 is missing required key 'secret'"]


def test_duplicate_user_is_reported_on_the_second(tmp_path: Path) -> None:
    (tmp_path / "extensions.conf").write_text("")
    path = tmp_path / "c.toml"
    path.write_text('[[sip.users]]\nname = "1001"\nsecret = "x"\n[[sip.users]]\nname = "1001"\nsecret = "y"\n')
    assert issues_of(path) == [f"{path}:5: sip.users: duplicate name '1001'"]


def test_toml_syntax_error_has_its_line(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[sip]\nport = 5060\nbind = \n')
    (issue,) = issues_of(path)
    assert issue.startswith(f"{path}:3: TOML syntax error:")


def test_missing_dialplan_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[dialplan]\nfile = "nowhere.conf"\n')
    assert issues_of(path) == [f"{path}:2: dialplan.file: no such file {tmp_path / 'nowhere.conf'}"]


def test_unknown_board_profile_lists_the_available_ones(config_copy: Path) -> None:
    text = config_copy.read_text().replace('profile = "sim-2fxs-2fxo"', 'profile = "sim-9fxs"')
    config_copy.write_text(text)
    line = next(i for i, text_line in enumerate(text.splitlines(), 1) if text_line.startswith("profile ="))
    assert issues_of(config_copy) == [
        f"{config_copy}:{line}: board.profile: no board profile 'sim-9fxs' "
        "(available: oak8x-pi4, sim-2fxs-2fxo, sip-only)"
    ]


def test_set_overrides_any_key_with_typed_values(config_copy: Path, tmp_path: Path) -> None:
    config = load_config(config_copy, [
        "sip.port=5070", "sip.bind=127.0.0.1", 'sip.users[1].secret="s3cret"', "log.level=debug",
        "sip.trunks.0.name=itsp", 'sip.trunks.0.servers=["a.example:5060", "b.example"]',
        "system.data_dir=state",
    ])
    assert config.sip.port == 5070 and config.sip.bind == "127.0.0.1"
    assert config.sip.users[1].secret == "s3cret"
    assert config.log.level == "debug"
    assert config.sip.trunks[0].servers == ["a.example:5060", "b.example"]
    assert config.sip.trunks[0].context == "from-trunk"
    # A relative path given on the command line is relative to where the command runs.
    assert config.system.data_dir == Path.cwd() / "state"


def test_set_errors_name_the_option(config_copy: Path) -> None:
    assert issues_of(config_copy, "sip.prot=5070", "sip.port=many", "nonsense") == [
        "--set nonsense: expected KEY=VALUE with a dotted key, e.g. sip.port=5070",
        "--set sip.prot=5070: unknown key 'prot' in [sip]; did you mean 'port'?",
        '--set sip.port=many: sip.port: expected an integer, got a string ("many")',
    ]


def test_check_config_accepts_set(config_copy: Path) -> None:
    bad = run_centralita("check-config", str(config_copy), "--set", "rtp.port_min=99")
    assert bad.returncode == 2
    assert bad.stderr.strip() == "--set rtp.port_min=99: rtp.port_min: 99 is out of range (1024..65534)"


def test_paths_in_the_file_are_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "x.conf").write_text("")
    path = tmp_path / "c.toml"
    path.write_text('[system]\ndata_dir = "state"\n[dialplan]\nfile = "plans/x.conf"\n')
    config = load_config(path)
    assert data_dir(config) == tmp_path / "state"
    assert control_socket_path(config) == tmp_path / "state" / "control.sock"
    assert config.dialplan.file == tmp_path / "plans" / "x.conf"


def test_unreadable_file() -> None:
    result = run_centralita("check-config", "/nonexistent/centralita.toml")
    assert result.returncode == 2
    assert result.stderr.startswith("/nonexistent/centralita.toml: cannot read: No such file or directory")


# -- property: no document makes the loader fail other than with located ConfigErrors ------------------

import tomli_w  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_NAMES = ["system", "log", "control", "console", "board", "sip", "rtp", "dialplan", "users", "trunks", "name",
          "secret", "context", "servers", "port", "bind", "port_min", "port_max", "file", "level", "format",
          "profile", "device", "baud", "data_dir", "socket", "sipp", "x"]
_SCALARS = st.one_of(st.integers(-70000, 70000), st.booleans(), st.sampled_from(["", "1001", "0.0.0.0", "info"]),
                     st.floats(allow_nan=False, allow_infinity=False))
_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.sampled_from(_NAMES), children, max_size=4)),
    max_leaves=15,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(_NAMES), _VALUES, max_size=6))
def test_arbitrary_documents_give_a_config_or_located_errors(tmp_path: Path, document: dict[str, object]) -> None:
    (tmp_path / "extensions.conf").write_text("")
    path = tmp_path / "fuzz.toml"
    path.write_text(tomli_w.dumps(document))
    try:
        load_config(path)
    except ConfigError as exc:
        assert exc.issues
        for issue in exc.issues:
            assert issue.source == str(path) and issue.line is not None, str(issue)


def test_every_shipped_board_profile_loads() -> None:
    from firmware.boards import available_profiles, load_profile

    names = available_profiles()
    assert {"sim-2fxs-2fxo", "oak8x-pi4", "sip-only"} <= set(names)
    for name in names:
        profile = load_profile(name)
        # Every board with telephony hardware has ports; sip-only is the one without.
        assert profile.name == name and (bool(profile.ports or profile.slots) == (name != "sip-only"))
