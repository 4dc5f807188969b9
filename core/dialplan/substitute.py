"""``${...}`` and ``$[...]`` substitution, variable lookup and assignment, as ``main/pbx_variables.c``.

- :func:`substitute` follows ``pbx_substitute_variables_helper_full``: text up to each ``$`` is copied,
  ``${name}`` is looked up (built-ins such as ``EXTEN`` first, then channel variables, then globals),
  ``${FUNC(args)}`` calls a dialplan function, ``$[expr]`` is substituted and handed to
  :func:`core.dialplan.expr.evaluate`, and ``:offset:length`` cuts the result (negative values count
  from the end).  A ``$`` not followed by ``{`` or ``[`` is literal; an unterminated ``${`` or ``$[``
  takes the rest of the text (Asterisk logs "Error in extension logic").  Unknown variables give
  nothing; unknown functions log "Function X not registered" and give nothing.
- Variables are stored under the name they were set with: ``Set(_X=1)`` stores ``_X``, ``Set(__X=1)``
  stores ``__X`` (the underscores say how far :func:`inherit_variables` carries them), and both read
  back as ``${X}`` (``ast_var_name`` strips up to two leading underscores).  ``${_X}`` does not find
  ``_X``.  Setting a variable replaces the one a lookup of the same name would find.
- :func:`assign` is ``pbx_builtin_setvar_helper``: a name ending in ``)`` writes a function
  (``Set(CALLERID(num)=123)``), otherwise a channel variable is set; ``Set(X=)`` sets ``X`` to the empty
  string (it still exists), only ``None`` deletes.

Asterisk truncates substitution results at its 4 KiB buffers (``VAR_BUF_SIZE``); this implementation
does not.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from core.callerid import CallerId
from core.causes import HangupCause
from core.channel import Channel, ChannelDriver, Direction
from core.dialplan.args import INT_MAX, scan_int, separate_args
from core.dialplan.functions import get_function
from core.dialplan.model import PRIORITY_HINT
from core.dialplan.runtime import DialplanOptions, SimpleEvalContext
from core.events import EventBus

if TYPE_CHECKING:
    from core.dialplan.model import Dialplan, Extension
    from core.dialplan.runtime import EvalContext

log = logging.getLogger("centralita.dialplan")

_S = TypeVar("_S", str, bytes)

# -- variable storage ------------------------------------------------------------------------------------


def stripped_name(name: str) -> str:
    """``ast_var_name``: a stored name without its (up to two) inheritance underscores."""
    if name[:1] == "_":
        return name[2:] if name[1:2] == "_" else name[1:]
    return name


def _stored_forms(name: str) -> tuple[str, ...]:
    # Stored names whose ast_var_name() is `name`, in the order a lookup tries them.
    if name[:1] == "_":
        return ("__" + name,)
    return (name, "_" + name, "__" + name)


def find_stored_name(variables: MutableMapping[str, str], name: str) -> str | None:
    """The stored key that a lookup of ``name`` finds (``X``, ``_X`` or ``__X``), or None."""
    if name in variables and name[:1] != "_":
        return name
    for key in _stored_forms(name):
        if key in variables:
            return key
    return None


def get_variable(variables: MutableMapping[str, str], name: str) -> str | None:
    """The value a lookup of ``name`` finds in one variable list, or None when it is not set."""
    value = variables.get(name)
    if value is not None and name[:1] != "_":
        return value
    key = find_stored_name(variables, name)
    return None if key is None else variables[key]


def set_variable(variables: MutableMapping[str, str], name: str, value: str | None) -> None:
    """``pbx_builtin_setvar_helper`` on one variable list (channel or globals).

    The variable a lookup of the name (without underscores) would find is removed, then ``name`` is
    stored as given, so its inheritance prefix is kept.  ``None`` only removes.  A re-set variable
    moves to the end of the mapping, which keeps the mapping in "least recently set first" order.
    """
    key = find_stored_name(variables, stripped_name(name))
    if key is not None:
        del variables[key]
    if value is not None:
        variables[name] = value


def getvar(ctx: EvalContext, name: str) -> str | None:
    """``pbx_builtin_getvar_helper``: a channel variable, else a global; no built-ins; None if unset."""
    value = get_variable(ctx.channel.variables, name)
    if value is None:
        value = get_variable(ctx.globals, name)
    return value


def inherit_variables(parent: Channel, child: Channel) -> None:
    """``ast_channel_inherit_variables`` (main/channel.c): copy inheritable variables to a new leg.

    ``_X`` arrives as ``X`` (not inherited further), ``__X`` arrives as ``__X`` (inherited by every
    descendant).  Asterisk appends them after the child's own variables, so a variable the child
    already has keeps winning lookups.
    """
    for key, value in list(parent.variables.items()):
        if key[:1] != "_":
            continue
        new_key = key if key[1:2] == "_" else key[1:]
        name = stripped_name(new_key)
        forms = _stored_forms(name)
        position = forms.index(new_key) if new_key in forms else len(forms) - 1
        # The appended variable must not shadow one the child already has.
        if any(form in child.variables for form in forms[position:]):
            continue
        child.variables[new_key] = value


# -- built-in variables ------------------------------------------------------------------------------------

def _hint(ctx: EvalContext, want_name: bool) -> str | None:
    dialplan = ctx.dialplan
    channel = ctx.channel
    if dialplan is None:
        return None
    extension = _find_extension(dialplan, channel.context, channel.exten, [])
    if extension is None:
        return None
    hint = extension.hint
    if hint is None:
        return None
    return hint.data if want_name else hint.app


def _find_extension(dialplan: Dialplan, context_name: str, exten: str, seen: list[str]) -> Extension | None:
    # Exact-name search through includes (hints on pattern extensions need the matcher; see report).
    if context_name in seen or len(seen) > 128:
        return None
    context = dialplan.contexts.get(context_name)
    if context is None:
        return None
    for extension in context.extensions:
        if extension.name == exten and PRIORITY_HINT in extension.priorities:
            return extension
    seen.append(context_name)
    for include in context.includes:
        found = _find_extension(dialplan, include.context, exten, seen)
        if found is not None:
            return found
    return None


def _presentation_value(ctx: EvalContext) -> str:
    from core.dialplan.functions.callerid import combined_presentation

    return str(combined_presentation(ctx.channel))


_entity_id: str | None = None


def entity_id() -> str:
    """``ast_eid_default`` as ``ast_eid_to_str`` prints it: the host's MAC, ``xx:xx:xx:xx:xx:xx``."""
    global _entity_id
    if _entity_id is None:
        import uuid  # lazily: uuid imports platform and the _uuid module

        node = uuid.getnode()
        _entity_id = ":".join(f"{(node >> shift) & 0xFF:02x}" for shift in range(40, -1, -8))
    return _entity_id


_BUILTINS: dict[str, Callable[[EvalContext], str | None]] = {
    "EXTEN": lambda ctx: ctx.channel.exten,
    "CONTEXT": lambda ctx: ctx.channel.context,
    "PRIORITY": lambda ctx: str(ctx.channel.priority),
    "CHANNEL": lambda ctx: ctx.channel.name,
    "UNIQUEID": lambda ctx: ctx.channel.uniqueid,
    # The cause the channel ended with, or the one it will end with (Dial's last failure, Hangup(N), Busy).
    "HANGUPCAUSE": lambda ctx: str(int(ctx.channel.hangup_cause or getattr(ctx, "pending_cause", None) or 0)),
    "HINT": lambda ctx: _hint(ctx, False),
    "HINTNAME": lambda ctx: _hint(ctx, True),
    "CALLINGPRES": _presentation_value,
    "CALLINGANI2": lambda ctx: "0",
    "CALLINGTON": lambda ctx: "0",
    "CALLINGTNS": lambda ctx: "0",
    "EPOCH": lambda ctx: str(int(ctx.wallclock())),
    "SYSTEMNAME": lambda ctx: ctx.options.system_name,
    "ENTITYID": lambda ctx: entity_id(),
}
"""What ``ast_str_retrieve_variable`` answers before looking at variables (Asterisk 20).

``CALLINGANI2``/``CALLINGTON``/``CALLINGTNS`` are 0 because no channel technology here carries ANI II,
a type of number or a transit network selection.  The ``AST*DIR`` directory names are not built in:
centralita has no such directories, so those names fall through to ordinary variables.
"""


class _LoadTimeDriver(ChannelDriver):
    """The technology of the scratch channel of load-time substitution: it reaches nothing."""

    technology = "Load"
    description = "scratch channel of load-time substitution"

    async def request(self, resource: str, *, requestor: Channel | None = None) -> Channel:
        raise NotImplementedError("load-time substitution places no calls")

    async def call(self, channel: Channel, *, timeout: float | None = None) -> None:
        return None

    async def answer(self, channel: Channel) -> None:
        return None

    async def hangup(self, channel: Channel, cause: HangupCause) -> None:
        return None


_CHANNEL_FREE_BUILTINS = frozenset(("EPOCH", "SYSTEMNAME", "ENTITYID"))
"""The built-ins ``ast_str_retrieve_variable`` answers without a channel (the rest need one)."""


@dataclass(slots=True)
class ChannellessEvalContext(SimpleEvalContext):
    """Substitution with no channel: ``pbx_substitute_variables_helper(NULL, ...)``.

    ``ast_str_retrieve_variable`` (main/pbx_variables.c) answers ``EXTEN``, ``CONTEXT``, ``CHANNEL``,
    ``UNIQUEID`` and the other channel built-ins only when there is a channel; without one those names
    are looked up among the globals like any other (so they are normally empty).  ``channel`` is a
    scratch channel that only keeps the functions working (it has no variables and no caller).
    """


def retrieve_variable(ctx: EvalContext, name: str) -> str | None:
    """``ast_str_retrieve_variable``: built-ins, then channel variables, then globals; None if unset."""
    builtin = _BUILTINS.get(name)
    if builtin is not None and (name in _CHANNEL_FREE_BUILTINS or not isinstance(ctx, ChannellessEvalContext)):
        return builtin(ctx)
    value = get_variable(ctx.channel.variables, name)
    if value is None:
        value = get_variable(ctx.globals, name)
    return value


# -- offsets -----------------------------------------------------------------------------------------------


def parse_variable_name(name: str) -> tuple[str, int, int, bool, bool]:
    """``parse_variable_name``: ``(name, offset, length, has_offset, is_function)``.

    The name ends at the first ``:`` outside parentheses; what follows is read with
    ``sscanf("%30d:%30d")`` (so ``X::3`` keeps the whole value and ``X:2:`` means "from 2 to the end").
    ``is_function`` is true when a ``(`` appears before that ``:``.
    """
    parens = 0
    is_function = False
    for i, c in enumerate(name):
        if c == "(":
            is_function = True
            parens += 1
        elif c == ")":
            parens -= 1
        elif c == ":" and parens == 0:
            offset = 0
            length = INT_MAX
            first = scan_int(name, i + 1)
            if first is not None:
                offset, end = first
                if end < len(name) and name[end] == ":":
                    second = scan_int(name, end + 1)
                    if second is not None:
                        length = second[0]
            return name[:i], offset, length, True, is_function
    return name, 0, INT_MAX, False, is_function


def substring(value: str, offset: int, length: int) -> str:
    """``substring``/``ast_str_substring``: Asterisk's ``${VAR:offset:length}`` on the UTF-8 bytes.

    A negative offset counts from the end (clamped to the start); an offset past the end gives "";
    a negative length leaves that many characters off the end.
    """
    if value.isascii():
        return _substring_of(value, offset, length)
    raw = value.encode("utf-8", "surrogateescape")
    return _substring_of(raw, offset, length).decode("utf-8", "replace")


def _substring_of(value: _S, offset: int, length: int) -> _S:
    lr = len(value)
    if offset == 0 and length >= lr:
        return value
    if offset < 0:
        offset = max(lr + offset, 0)
    if offset >= lr:
        return value[:0]
    if length >= 0:
        return value[offset:offset + length]
    remaining = lr - offset + length
    return value[offset:offset + remaining] if remaining > 0 else value[:0]


# -- functions ---------------------------------------------------------------------------------------------


def split_function(text: str) -> tuple[str, str | None]:
    """``func_args``: ``FUNC(args)`` -> ``("FUNC", "args")``; args run to the *last* ``)``.

    Without ``(`` the arguments are None (Asterisk warns "doesn't contain parentheses"); without a
    closing ``)`` everything after ``(`` is the argument (with a warning).
    """
    name, paren, rest = text.partition("(")
    if not paren:
        log.warning("Function '%s' doesn't contain parentheses.  Assuming null argument.", text)
        return text, None
    end = rest.rfind(")")
    if end < 0:
        log.warning("Can't find trailing parenthesis for function '%s(%s'?", name, rest)
        return name, rest
    return name, rest[:end]


def read_function(ctx: EvalContext, text: str) -> str | None:
    """``ast_func_read``: call ``FUNC(args)``; None when the function fails or does not exist."""
    name, args = split_function(text)
    function = get_function(name)
    if function is None:
        log.error("Function %s not registered", name)
        return None
    if function.read is None:
        log.error("Function %s cannot be read", name)
        return None
    try:
        return function.read(ctx, name, args)
    except Exception:
        log.exception("Function %s(%s) failed", name, args)
        return None


def write_function(ctx: EvalContext, text: str, value: str | None) -> bool:
    """``ast_func_write``: ``Set(FUNC(args)=value)``; False when the function fails or does not exist."""
    name, args = split_function(text)
    function = get_function(name)
    if function is None:
        log.error("Function %s not registered", name)
        return False
    if function.write is None:
        log.error("Function %s cannot be written to", name)
        return False
    try:
        return function.write(ctx, name, args, value)
    except Exception:
        log.exception("Function %s(%s) write failed", name, args)
        return False


# -- expressions -------------------------------------------------------------------------------------------

_evaluate: Callable[..., str] | None = None


def _expression_functions(ctx: EvalContext) -> Callable[[str, str], str | None]:
    # ast_expr2.y op_func(): a function called inside $[...] without ${} runs its read callback directly;
    # an unknown one is "could not find func" (the expression engine then uses 0).
    def read(name: str, args: str) -> str | None:
        function = get_function(name)
        if function is None:
            log.warning("Hey! could not find func %s.", name)
            return None
        if function.read is None:
            return ""
        try:
            return function.read(ctx, name, args) or ""
        except Exception:
            log.exception("Function %s(%s) failed", name, args)
            return ""

    return read


def evaluate_expression(text: str, ctx: EvalContext | None = None) -> str:
    """``ast_expr`` via :func:`core.dialplan.expr.evaluate` (imported on first use).

    With ``ctx``, dialplan functions called inside the expression without ``${}`` are available.
    """
    global _evaluate
    if _evaluate is None:
        module = importlib.import_module("core.dialplan.expr")
        _evaluate = module.evaluate
    assert _evaluate is not None
    if ctx is None:
        return _evaluate(text)
    return _evaluate(text, functions=_expression_functions(ctx))


# -- substitution ------------------------------------------------------------------------------------------


def substitute(text: str, ctx: EvalContext) -> str:
    """Expand ``${...}`` and ``$[...]`` in ``text`` as ``pbx_substitute_variables_helper_full`` does."""
    if "$" not in text:
        return text
    return _substitute(text, ctx)


def _substitute(text: str, ctx: EvalContext) -> str:
    out: list[str] = []
    n = len(text)
    pos = 0
    find = text.find
    while pos < n:
        dollar = find("$", pos)
        if dollar < 0:
            out.append(text[pos:])
            break
        kind = text[dollar + 1:dollar + 2]
        if kind != "{" and kind != "[":
            out.append(text[pos:dollar + 1])
            pos = dollar + 1
            continue
        if dollar > pos:
            out.append(text[pos:dollar])
        start = i = dollar + 2
        if kind == "{":
            # Fast path: ${NAME} with nothing nested before the closing brace.
            close = find("}", start)
            if close >= 0:
                inner = text[start:close]
                if "{" not in inner and "$" not in inner:
                    pos = close + 1
                    value = _expand_variable(inner, ctx)
                    if value:
                        out.append(value)
                    continue
        depth = 1
        needsub = False
        if kind == "{":
            while depth and i < n:
                c = text[i]
                if c == "$":
                    following = text[i + 1:i + 2]
                    if following == "{":
                        needsub = True
                        depth += 1
                        i += 1
                    elif following == "[":
                        needsub = True
                        i += 1
                elif c == "{":
                    depth += 1
                elif c == "}":
                    depth -= 1
                i += 1
        else:
            while depth and i < n:
                c = text[i]
                if c == "$":
                    following = text[i + 1:i + 2]
                    if following == "[":
                        needsub = True
                        depth += 1
                        i += 1
                    elif following == "{":
                        needsub = True
                        i += 1
                elif c == "[":
                    depth += 1
                elif c == "]":
                    depth -= 1
                i += 1
        if depth:
            log.warning("Error in extension logic (missing '%s')", "}" if kind == "{" else "]")
            inner = text[start:i]
        else:
            inner = text[start:i - 1]
        pos = i
        if needsub:
            inner = _substitute(inner, ctx)
        if kind == "{":
            value = _expand_variable(inner, ctx)
            if value:
                out.append(value)
        else:
            try:
                out.append(evaluate_expression(inner, ctx))
            except Exception:
                log.exception("Expression $[%s] could not be evaluated", inner)
    return "".join(out)


def _expand_variable(inner: str, ctx: EvalContext) -> str | None:
    if ":" not in inner and "(" not in inner:
        # The common case (${EXTEN}, ${TIMEOUT}): no offsets, no function.
        return retrieve_variable(ctx, inner)
    name, offset, length, _has_offset, is_function = parse_variable_name(inner)
    value = read_function(ctx, name) if is_function else retrieve_variable(ctx, name)
    if value is None:
        return None
    return substring(value, offset, length)


# -- assignment --------------------------------------------------------------------------------------------


def assign(ctx: EvalContext, name: str, value: str | None) -> None:
    """``pbx_builtin_setvar_helper`` on the call's channel: a function write or a channel variable.

    ``name`` ending in ``)`` writes the function (``CALLERID(num)``, ``GLOBAL(x)``, ``CDR(userfield)``);
    otherwise the channel variable is set as :func:`set_variable` describes.
    """
    if name.endswith(")"):
        write_function(ctx, name, value)
        return
    set_variable(ctx.channel.variables, name, value)


def set_global(ctx: EvalContext, name: str, value: str | None) -> None:
    """``pbx_builtin_setvar_helper(NULL, ...)``: set (or with None remove) a global variable."""
    if name.endswith(")"):
        write_function(ctx, name, value)
        return
    log.debug("Setting global variable '%s' to '%s'", name, value)
    set_variable(ctx.globals, name, value)


def set_application(ctx: EvalContext, data: str) -> None:
    """The ``Set(name=value)`` application (``pbx_builtin_setvar``): split at the first ``=``.

    The value is kept verbatim (commas and quotes included).  Without ``=`` Asterisk only warns.
    """
    if not data:
        log.warning("Set requires one variable name/value pair.")
        return
    name, equals, value = data.partition("=")
    if not equals:
        log.warning("Set requires an '=' to be a valid assignment.")
        return
    if " " in name:
        log.warning("Please avoid unnecessary spaces on variables as it may lead to unexpected results "
                    "('%s' set to '%s').", name, value)
    assign(ctx, name, value)


def mset_application(ctx: EvalContext, data: str) -> None:
    """``MSet(name1=value1[,name2=value2...])`` (``pbx_builtin_setvar_multiple``): up to 99 pairs.

    Pairs are split like application arguments (quotes and backslashes removed), each at its first
    ``=`` outside quotes/brackets; entries without ``=`` are ignored with a warning.
    """
    if not data:
        log.warning("MSet requires at least one variable name/value pair.")
        return
    channel = ctx.channel
    for pair in separate_args(data, ",", True, limit=99):
        parts = separate_args(pair, "=", True, limit=2)
        if len(parts) == 2:
            assign(ctx, parts[0], parts[1])
            if " " in parts[0]:
                log.warning("Please avoid unnecessary spaces on variables as it may lead to unexpected results "
                            "('%s' set to '%s').", parts[0], parts[1])
        else:
            log.warning("MSet: ignoring entry '%s' with no '=' (in %s@%s:%d", parts[0] if parts else "",
                        channel.exten, channel.context, channel.priority)


# -- load time ---------------------------------------------------------------------------------------------


def load_time_substituter(options: DialplanOptions | None = None) -> Callable[[str, Mapping[str, str]], str]:
    """The substitution ``pbx_load_config`` does while loading, for :func:`core.dialplan.loader.load_dialplan`.

    ``[globals]`` values, extension names, includes, ignore patterns and switches are substituted with
    no channel (:class:`ChannellessEvalContext`: ``${EXTEN}`` is a global, normally empty).  A hint
    (the mapping is a :class:`~core.dialplan.loader.HintVariables`) is substituted on a dummy channel
    at the hint's extension and context, as ``ast_add_extension2_lockopt`` does with
    ``ast_dummy_channel_alloc()``: ``exten => 1001,hint,SIP/${EXTEN}`` is ``SIP/1001``.  The variables
    given are the globals; functions and ``$[...]`` work as at run time.
    """
    from core.dialplan.loader import HintVariables  # the loader does not import this module: no cycle

    settings = options if options is not None else DialplanOptions()

    def run(text: str, variables: Mapping[str, str]) -> str:
        hint = isinstance(variables, HintVariables)
        channel = Channel(name="", uniqueid="", driver=_LoadTimeDriver(), resource="", direction=Direction.INBOUND,
                          bus=EventBus(), clock=lambda: 0.0, caller=CallerId(),
                          context=variables["CONTEXT"] if hint else "", exten=variables["EXTEN"] if hint else "")
        channel.priority = 0  # a dummy channel is zeroed memory
        if isinstance(variables, HintVariables):
            context: SimpleEvalContext = SimpleEvalContext(channel=channel, globals=dict(variables.parents),
                                                           options=settings)
        else:
            context = ChannellessEvalContext(channel=channel, globals=dict(variables), options=settings)
        return substitute(text, context)

    return run
