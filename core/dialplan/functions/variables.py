"""Variable scopes: GLOBAL (``funcs/func_global.c``), LOCAL and LOCAL_PEEK (``apps/app_stack.c``) and
ENV (``funcs/func_env.c``).

``LOCAL(x)`` is an ordinary channel variable while the Gosub runs: the first write in a frame remembers
the value ``x`` had (``GosubFrame.localize``) and ``Return`` puts it back; reading ``LOCAL(x)`` gives the
variable only if it was made local in the current frame (else nothing); outside a Gosub reads fail and
writes log an error.  ``ENV`` reads the process environment when ``options.allow_env_read`` permits
and never writes it (centralita's deliberate restriction; Asterisk lets the dialplan ``setenv``).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from core.dialplan import substitute as _sub
from core.dialplan.args import atoi, split_args
from core.dialplan.functions import reader, writer

if TYPE_CHECKING:
    from core.dialplan.runtime import EvalContext, GosubFrame

log = logging.getLogger("centralita.dialplan")


@reader("GLOBAL", "Gets or sets the global variable specified.")
def global_read(ctx: EvalContext, cmd: str, data: str | None) -> str:
    """``GLOBAL(name)``: the global variable (empty if unset)."""
    if data is None:
        return ""
    return _sub.get_variable(ctx.globals, data) or ""


@writer("GLOBAL")
def global_write(ctx: EvalContext, cmd: str, data: str | None, value: str | None) -> bool:
    """``Set(GLOBAL(name)=value)``: set a global (``_``/``__`` prefixes kept as for channel variables)."""
    if data is None:
        return False
    _sub.set_global(ctx, data, value)
    return True


def _is_local(frame: GosubFrame, name: str) -> bool:
    return any(_sub.stripped_name(saved) == name for saved in frame.saved)


@reader("LOCAL", "Manage variables local to the gosub stack frame.")
def local_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``LOCAL(name)``: the variable if it is local to the current Gosub frame, else empty."""
    frame = ctx.local_frame
    if frame is None:
        return None
    name = data or ""
    if not _is_local(frame, name):
        return ""
    return _sub.getvar(ctx, name) or ""


@writer("LOCAL")
def local_write(ctx: EvalContext, cmd: str, data: str | None, value: str | None) -> bool:
    """``Set(LOCAL(name)=value)``: set a variable that ``Return`` restores."""
    frame = ctx.local_frame
    name = data or ""
    if frame is None:
        log.error("Tried to set LOCAL(%s), but we aren't within a Gosub routine", name)
        return False
    variables = ctx.channel.variables
    if _is_local(frame, name):
        _sub.set_variable(variables, name, value)
        return True
    if name.endswith(")"):
        log.warning("Cannot push a value onto a function")
        return _sub.write_function(ctx, name, value)
    # pbx_builtin_pushvar_helper(): the new variable hides the old one until Return.
    frame.localize(variables, name)
    if value is not None:
        variables.pop(name, None)
        variables[name] = value
    return True


@reader("LOCAL_PEEK", "Retrieve variables hidden by the local gosub stack frame.")
def local_peek_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``LOCAL_PEEK(n,name)``: the value ``name`` has ``n`` Gosub levels up (0 is the current value)."""
    _argc, (count_text, name) = split_args(data, 2, remove_chars=False)
    if not count_text or not name:
        log.error("LOCAL_PEEK requires parameters n and varname")
        return None
    levels = atoi(count_text)
    values: list[str] = []
    current = _sub.get_variable(ctx.channel.variables, name)
    if current is not None:
        values.append(current)
        frames: list[GosubFrame] = list(getattr(ctx, "frames", None) or ([] if ctx.local_frame is None
                                                                        else [ctx.local_frame]))
        for frame in reversed(frames):
            if not _is_local(frame, name):
                continue
            saved = next((value for key, value in frame.saved.items() if _sub.stripped_name(key) == name), None)
            if saved is None:
                break
            values.append(saved)
    if levels < 0:
        levels = 0
    return values[levels] if levels < len(values) else ""


@reader("ENV", "Gets or sets the environment variable specified.")
def env_read(ctx: EvalContext, cmd: str, data: str | None) -> str | None:
    """``ENV(name)``: the environment variable (empty if unset), when configuration allows reading it."""
    if not ctx.options.allow_env_read:
        log.error("Dangerous function %s read blocked", cmd)
        return None
    if not data:
        return ""
    return os.environ.get(data, "")


@writer("ENV")
def env_write(ctx: EvalContext, cmd: str, data: str | None, value: str | None) -> bool:
    """``Set(ENV(name)=value)`` is refused: the gateway's environment is not the dialplan's to change."""
    log.error("Dangerous function %s write blocked: the environment is read-only here", cmd)
    return False
