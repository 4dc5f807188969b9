"""The newer dialplan functions through ``dialplan eval`` on a running gateway (what the held-out corpus uses)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from firmware.config import DEFAULT_CONFIG
from tests.support import GatewayProcess

PLAN = """
[default]
exten => s,1,NoOp()
[prompts]
exten => _X!,1,Return(default)
exten => _20X,1,Return(welcome ${EXTEN})
"""


def test_new_functions_in_dialplan_eval(tmp_path: Path, gateway_factory: Callable[..., GatewayProcess]) -> None:
    config = tmp_path / "centralita.toml"
    shutil.copy(DEFAULT_CONFIG, config)
    (tmp_path / "extensions.conf").write_text(PLAN)
    gateway = gateway_factory("--config", str(config))
    checks = {
        "dialplan eval [${TRIM(  a b  )}][${LTRIM(  a)}][${RTRIM(a  )}]": "[a b][a][a]",
        "dialplan eval ${SQL_ESC('x')}": "''x''",
        "dialplan eval ${AES_ENCRYPT(1234567890123456,hello)}": "77zyX9jQgwOf4fhw/CUKfA==",
        "dialplan eval ${AES_DECRYPT(1234567890123456,77zyX9jQgwOf4fhw/CUKfA==)}": "hello",
        "dialplan eval ${EVAL_EXTEN(prompts,203,1)}|${EVAL_EXTEN(prompts,5,1)}": "welcome 203|default",
        "dialplan eval --set 'J={\"a\": [1, {\"b\": \"x\"}]}' ${JSON_DECODE(J,a.1.b)}|${JSON_DECODE(J,a,,c)}": "x|2",
        "dialplan eval ${REDIRECTING(reason)}|${CONNECTEDLINE(pres)}|${CHANNEL_EXISTS(nobody)}":
            "unknown|unavailable|0",
    }
    for command, expected in checks.items():
        assert gateway.console(command) == (True, expected), command
