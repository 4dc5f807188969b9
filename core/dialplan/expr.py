"""Asterisk's ``$[ ... ]`` expression language, evaluated exactly as Asterisk 20 does.

The caller substitutes ``${...}`` first (as ``pbx_substitute_variables_helper_full`` does) and hands the
text between ``$[`` and ``]`` to :func:`evaluate`, which returns what Asterisk's ``ast_str_expr()`` would
put into the dialplan. Sources followed (asterisk/asterisk):

* ``main/ast_expr2.fl`` -- the flex scanner: operator tokens need no surrounding spaces, ``"..."`` is one
  token *with* its quotes, ``[0-9]+(\\.[0-9]+)?`` is a numeric string, runs of
  ``[a-zA-Z0-9.';\\\\_^#@]``, bytes >= 0x80 and ``$x`` (``x`` not ``{``) are one string token, ``${...}``
  plus trailing text is one token, and any other character is dropped (flex's default ECHO rule);
* ``main/ast_expr2.y`` -- the grammar, its precedence table and the ``op_*`` value semantics (numbers
  are ``long double``, printed with ``%.18Lg``); ``ast_str_expr()`` returns ``"0"`` when parsing failed
  and ``""`` for an empty expression;
* ``tests/test_expr.c`` and docs.asterisk.org "Expressions" (Operators, Floating Point Numbers,
  Expr2 Built-in Functions, Expressions Examples) for documented results.

Numbers are x87 80-bit ``long double`` values printed with ``%.18Lg`` (:mod:`core.dialplan.longdouble`,
math functions in :mod:`core.dialplan.longdouble_math`); ``:`` and ``=~`` are POSIX extended regular
expressions (:mod:`core.dialplan.posix_regex`).

Speed: a substituted text that is one comparison or one ``+ - * %`` of two decimal integers whose exact
result prints as itself under ``%.18Lg`` is answered with Python ints (:func:`_integer_expression`), and
texts made only of operators, quoted strings and plain words are tokenized by one regular expression
(:func:`_scan_simple`); everything else takes the scanner and evaluator that follow ``ast_expr2.fl`` and
``ast_expr2.y`` step by step. Both shortcuts give the same result as that exact path (property tests in
``tests/dialplan/test_expr_fast.py``).
"""

from __future__ import annotations

import logging
import operator
import re
from collections.abc import Callable
from fractions import Fraction
from typing import Any, Union

from core.dialplan.longdouble import (
    Number,
    add,
    atoi,
    divide,
    fmod,
    format_number,
    isinf,
    multiply,
    negate,
    strtold,
    subtract,
)
from core.dialplan.longdouble_math import (
    absolute,
    acosl,
    asinl,
    atan2l,
    atanl,
    ceill,
    cosl,
    exp2l,
    exp10l,
    expl,
    floorl,
    log2l,
    log10l,
    logl,
    powl,
    remainderl,
    rintl,
    roundl,
    sinl,
    sqrtl,
    tanl,
    truncl,
)
from core.dialplan.posix_regex import RegexError, compile_regex

__all__ = ["ExpressionError", "FunctionReader", "evaluate"]

_log = logging.getLogger("centralita.dialplan")

FunctionReader = Callable[[str, str], Union[str, None]]
"""Reads a dialplan function called inside ``$[...]`` without ``${}``: ``(NAME, ARGS) -> value``.

``ARGS`` is the argument list joined with ``,`` exactly as ``compose_func_args()`` in ``ast_expr2.y``
builds it (numbers printed with ``%.18Lg``, strings verbatim, quotes included). Return None when there
is no such function.
"""


class ExpressionError(Exception):
    """A syntax error in an expression; ``position`` is the offset of the offending token in the text.

    Used inside this module only: :func:`evaluate` logs it and returns ``"0"`` as ``ast_str_expr()`` does.
    """

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at offset {position})")
        self.message = message
        self.position = position


_BuiltinFunction = Callable[..., Number]

# name -> (number of arguments, implementation); the list, the names and the arities are op_func()'s.
_BUILTINS: dict[str, tuple[int, _BuiltinFunction]] = {
    "COS": (1, cosl),
    "SIN": (1, sinl),
    "TAN": (1, tanl),
    "ACOS": (1, acosl),
    "ASIN": (1, asinl),
    "ATAN": (1, atanl),
    "ATAN2": (2, atan2l),
    "POW": (2, powl),
    "SQRT": (1, sqrtl),
    "FLOOR": (1, floorl),
    "CEIL": (1, ceill),
    "ROUND": (1, roundl),
    "RINT": (1, rintl),
    "TRUNC": (1, truncl),
    "EXP": (1, expl),
    "EXP2": (1, exp2l),
    "EXP10": (1, exp10l),
    "LOG": (1, logl),
    "LOG2": (1, log2l),
    "LOG10": (1, log10l),
    "REMAINDER": (2, remainderl),
    "ABS": (1, absolute),
}

_FUNCTION_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789")
_REALLY_NUMERIC_CHARS = frozenset("-0123456789. \t")
_FUNCTION_WORKSPACE = 512  # op_func() reads a function into char workspace[512]
_INT_MAX = 2147483647  # op_div()'s answer to a zero or non-numeric divisor


def _to_bytes(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


# --------------------------------------------------------------------------------------------------
# Values and the op_* functions of ast_expr2.y.  A value is a number, a numeric string
# (AST_EXPR_numeric_string, converted to a number only when an operator asks for one) or a plain str
# (AST_EXPR_string).


class _NumericString(str):
    """A string that looks like a number (``AST_EXPR_numeric_string``): digits and dots only."""

    __slots__ = ()


Value = Union[int, Fraction, float, str]


def _make_str(text: str) -> str:
    """``make_str()``: a string of digits and dots becomes a numeric string (a leading ``-`` does not)."""
    if text and not text.strip("0123456789."):
        return _NumericString(text)
    return text


def _to_number(value: Value) -> Number | None:
    """``to_number()``: the number a value stands for, or None for a string (or an out-of-range number)."""
    kind = type(value)
    if kind is _NumericString:
        assert isinstance(value, str)
        if len(value) < 19 and value.isdigit():  # the usual case; a numeric string is ASCII only
            return int(value)
        number, out_of_range = strtold(value)
        if out_of_range:
            _log.warning("Conversion of %s to number under/overflowed!", value)
            return None
        return number
    if kind is str:
        return None
    assert not isinstance(value, str)
    return value


def _to_text(value: Value) -> str:
    """``to_string()``: numbers are printed with ``%.18Lg``; strings stay as they are, quotes and all."""
    if isinstance(value, str):
        return value
    return format_number(value)


def _strip_quotes(text: str) -> str:
    # strip_quotes() removes every '"' once the string starts and ends with one.
    if text and text[0] == '"' and text[-1] == '"':
        return text.replace('"', "")
    return text


def _non_numeric() -> None:
    _log.warning("non-numeric argument")


def _zero_or_null(value: Value) -> tuple[bool, Value]:
    """``is_zero_or_null()``, which also leaves a numeric string converted to its number."""
    if not isinstance(value, str):
        return value == 0, value
    if value == "":
        return True, value
    number = _to_number(value)
    if number is None:
        return False, "" if type(value) is _NumericString else value
    return number == 0, number


def _op_or(a: Value, b: Value) -> Value:
    a_zero, a = _zero_or_null(a)
    return b if a_zero else a


def _op_and(a: Value, b: Value) -> Value:
    a_zero, a = _zero_or_null(a)
    if a_zero or _zero_or_null(b)[0]:
        return 0
    return a


def _comparison(test: Callable[[Any, Any], Any]) -> Callable[[Value, Value], Value]:
    def compare(a: Value, b: Value) -> Value:
        # A string operand (not a numeric string) makes it a string comparison: strcoll() in the "C"
        # locale, i.e. byte order, which is code point order for UTF-8.
        if type(a) is str or type(b) is str:
            return 1 if test(_to_text(a), _to_text(b)) else 0
        left, right = _to_number(a), _to_number(b)
        return 1 if test(0 if left is None else left, 0 if right is None else right) else 0

    return compare


_op_eq = _comparison(operator.eq)
_op_ne = _comparison(operator.ne)
_op_lt = _comparison(operator.lt)
_op_le = _comparison(operator.le)
_op_gt = _comparison(operator.gt)
_op_ge = _comparison(operator.ge)


def _check_overflow(left: Number, right: Number, result: Number) -> Number:
    if isinf(result) and not isinf(left) and not isinf(right):
        _log.warning("overflow")
    return result


def _op_plus(a: Value, b: Value) -> Value:
    left = _to_number(a)
    if left is None:
        _non_numeric()
        right = _to_number(b)
        return 0 if right is None else right
    right = _to_number(b)
    if right is None:
        return left  # op_plus() returns the numeric side without a warning here
    return _check_overflow(left, right, add(left, right))


def _op_minus(a: Value, b: Value) -> Value:
    left = _to_number(a)
    if left is None:
        _non_numeric()
        right = _to_number(b)
        return 0 if right is None else subtract(0, right)
    right = _to_number(b)
    if right is None:
        _non_numeric()
        return left
    return _check_overflow(left, right, subtract(left, right))


def _op_times(a: Value, b: Value) -> Value:
    left = _to_number(a)
    right = None if left is None else _to_number(b)
    if left is None or right is None:
        _non_numeric()
        return 0
    return _check_overflow(left, right, multiply(left, right))


def _op_div(a: Value, b: Value) -> Value:
    left = _to_number(a)
    if left is None:
        _non_numeric()
        return 0
    right = _to_number(b)
    if right is None:
        _non_numeric()
        return _INT_MAX
    if right == 0:
        _log.warning("division by zero")
        return _INT_MAX
    return divide(left, right)


def _op_rem(a: Value, b: Value) -> Value:
    left = _to_number(a)
    right = None if left is None else _to_number(b)
    if left is None or right is None:
        _non_numeric()
        return 0
    if right == 0:
        _log.warning("div by zero")
        return right  # the (converted) divisor itself: 0, or -0
    return fmod(left, right)


def _op_negate(a: Value) -> Value:
    number = _to_number(a)
    if number is None:
        _non_numeric()
        return 0
    return negate(number)


def _op_compl(a: Value) -> Value:
    if isinstance(a, str):
        truth = 0 if a in ("", "0") else atoi(a)  # op_compl() reads a string with atoi()
    else:
        truth = 0 if a == 0 else 1
    return 0 if truth else 1


def _op_cond(a: Value, b: Value, c: Value) -> Value:
    if type(a) is str:
        truth = a not in ("", '""', "0")
    else:
        number = _to_number(a)
        truth = number is not None and bool(number)
    return b if truth else c


def _regex_match(a: Value, b: Value, anchored: bool) -> Value:
    """``op_colon()`` (anchored) and ``op_eqtilde()``."""
    subject = _to_bytes(_strip_quotes(_to_text(a)))
    try:
        regex = compile_regex(_to_bytes(_strip_quotes(_to_text(b))))
    except RegexError as exc:
        _log.warning("regcomp() error : %s", exc)
        return ""
    found = regex.search(subject)
    if found is not None and (not anchored or found[0] == 0):
        if found[2] >= 0:
            return _make_str(subject[found[2] : found[3]].decode("utf-8", "surrogateescape"))
        return found[1] - found[0]
    return 0 if regex.nsub == 0 else ""


def _op_colon(a: Value, b: Value) -> Value:
    return _regex_match(a, b, anchored=True)


def _op_eqtilde(a: Value, b: Value) -> Value:
    return _regex_match(a, b, anchored=False)


def _op_tildetilde(a: Value, b: Value) -> Value:
    return _make_str(_strip_quotes(_to_text(a)) + _strip_quotes(_to_text(b)))


def _builtin_argument(value: Value) -> Number:
    number = _to_number(value)
    if number is None:
        # op_func() ignores to_number()'s failure and reads the string pointer as a long double,
        # which is undefined; 0 is as good an answer as any and is stable.
        _log.warning("non-numeric argument %r to an expression function", _to_text(value))
        return 0
    return number


def _call_function(name: Value, arguments: list[Value], functions: FunctionReader | None) -> Value:
    """``op_func()``: a built-in math function, else a dialplan function read through ``functions``."""
    name_text = _to_text(name)
    if not all(char in _FUNCTION_NAME_CHARS for char in name_text):
        _log.error("Error! '%s' is not possibly a function name!", name_text)
        return 0
    builtin = _BUILTINS.get(name_text)
    if builtin is not None:
        arity, implementation = builtin
        if len(arguments) != arity:
            _log.warning("Wrong args to %s() function", name_text)
            return 0
        result: Number = implementation(*(_builtin_argument(argument) for argument in arguments))
        return result
    result_text = None
    if functions is not None:
        result_text = functions(name_text, ",".join(_to_text(argument) for argument in arguments))
    if result_text is None:
        _log.error("Error! '%s' doesn't appear to be an available function!", name_text)
        return 0
    encoded = _to_bytes(result_text)
    if len(encoded) >= _FUNCTION_WORKSPACE:
        result_text = encoded[: _FUNCTION_WORKSPACE - 1].decode("utf-8", "ignore")
    if all(char in _REALLY_NUMERIC_CHARS for char in result_text):
        return strtold(result_text)[0]  # is_really_num(): strtold() without an errno check
    return _make_str(result_text)


# --------------------------------------------------------------------------------------------------
# The scanner (ast_expr2.fl).

(
    T_END,
    T_TOKEN,
    T_OR,
    T_AND,
    T_EQ,
    T_GT,
    T_LT,
    T_GE,
    T_LE,
    T_NE,
    T_PLUS,
    T_MINUS,
    T_MULT,
    T_DIV,
    T_MOD,
    T_COMPL,
    T_COLON,
    T_EQTILDE,
    T_TILDETILDE,
    T_COND,
    T_COLONCOLON,
    T_LP,
    T_RP,
    T_COMMA,
) = range(24)

_OPERATORS = {
    "||": T_OR,
    "&&": T_AND,
    "==": T_EQ,
    "=~": T_EQTILDE,
    "~~": T_TILDETILDE,
    ">=": T_GE,
    "<=": T_LE,
    "!=": T_NE,
    "::": T_COLONCOLON,
    "|": T_OR,
    "&": T_AND,
    "=": T_EQ,
    ">": T_GT,
    "<": T_LT,
    "+": T_PLUS,
    ",": T_COMMA,
    "-": T_MINUS,
    "*": T_MULT,
    "/": T_DIV,
    "%": T_MOD,
    "?": T_COND,
    "!": T_COMPL,
    ":": T_COLON,
    "(": T_LP,
    ")": T_RP,
}

# The names ast_yyerror() shows for tokens (expr2_token_equivs2 in ast_expr2.fl).
_TOKEN_NAMES = {kind: f"'{text}'" for text, kind in _OPERATORS.items() if len(text) == 1 or kind == T_COLONCOLON}
_TOKEN_NAMES.update({T_EQ: "'='", T_EQTILDE: "'=~'", T_TILDETILDE: "'~~'", T_GE: "'>='", T_LE: "'<='"})
_TOKEN_NAMES.update({T_NE: "'!='", T_OR: "'|'", T_AND: "'&'", T_TOKEN: "'<token>'", T_END: "$end"})

# One token per match, after any blanks: 1 operator, 2 quoted string, 3 "${", 4 run of token characters
# ([a-zA-Z0-9.';\\_^#@], anything >= 0x80, or "$" and a character other than "{"; the class below is
# that set written as its ASCII complement).
_SCANNER = re.compile(
    r"[ \t\r\n]*(?:"
    r"(\|\||&&|==|=~|~~|>=|<=|!=|::|[|&=><+,\-*/%?!:()])"
    r'|("[^"]*")'
    r"|(\$\{)"
    r"|((?:[^\x00-\x20!\"$%&()*+,\-/:<=>?\[\]`{|}~\x7f]|\$[^{])+))?",
    re.DOTALL,
)
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_BRACE = re.compile(r"[{}]")
_TRAIL = re.compile(r"[^-\t\r \n$():?%/+=*<>!|&]*")


def _scan_variable(text: str, start: int, position: int) -> tuple[str | None, int]:
    """A ``${...}`` token (from ``start``; ``position`` is past its ``${``) with its trailing text.

    Follows the ``var`` and ``trail`` start conditions. Two flex effects are kept: an unterminated
    ``${`` swallows the rest of the input (no rule matches, EOF ends the scan), and a ``}`` followed
    directly by an operator or blank yields a token that runs to the end of the input, because the
    ``unput()`` in that rule overwrites the NUL that ended ``yytext``.
    """
    depth = 0
    while True:
        brace = _BRACE.search(text, position)
        if brace is None:
            return None, len(text)
        position = brace.end()
        if brace.group() == "{":
            depth += 1
            continue
        depth -= 1
        if depth >= 0:
            continue
        trail = _TRAIL.match(text, position)
        trail_end = trail.end() if trail else position
        if text.startswith("${", trail_end):
            position, depth = trail_end + 2, 0
            continue
        if trail_end == len(text) or trail_end == position:
            return text[start:], trail_end
        return text[start:trail_end], trail_end


# Token kinds, token values and token offsets (None: not computed, see _scan_simple()), ending with T_END.
_Tokens = tuple[list[int], list[Value], Union[list[int], None]]
_SCAN_CACHE_SIZE = 4096
# Longer texts are neither cached nor given to the shortcuts, whose regular expressions backtrack over blank
# runs; substituted dialplan expressions are far shorter.
_SHORT_TEXT = 256
_scan_cache: dict[str, _Tokens] = {}


def _tokens(text: str) -> _Tokens:
    """The tokens of ``text``, from a bounded cache: dialplans evaluate the same substituted texts again.

    A miss is scanned by :func:`_scan_simple` when the text is plain, else by :func:`_scan`.
    """
    tokens = _scan_cache.get(text)
    if tokens is None:
        if len(text) <= _SHORT_TEXT:
            tokens = _scan_simple(text) or _scan(text)
            if len(_scan_cache) >= _SCAN_CACHE_SIZE:
                _scan_cache.clear()
            _scan_cache[text] = tokens
        else:
            tokens = _scan(text)
    return tokens


def _scan(text: str) -> tuple[list[int], list[Value], list[int]]:
    """Token kinds, token values and token offsets of ``text``, ending with ``T_END``."""
    kinds: list[int] = []
    values: list[Value] = []
    offsets: list[int] = []
    position, length = 0, len(text)
    match_at = _SCANNER.match
    while position < length:
        match = match_at(text, position)
        assert match is not None  # every alternative is optional
        group = match.lastindex
        if group is None:
            # Flex's default rule echoes a character no rule matches (a lone '"', '[', '{', '~', a
            # trailing '$', a control character) and the scanner carries on as if it were not there.
            position = match.end() + 1
            continue
        start, position = match.start(group), match.end()
        token = match.group(group)
        if group == 1:
            kinds.append(_OPERATORS[token])
            values.append(token)
        elif group == 2:
            kinds.append(T_TOKEN)
            values.append(token)
        else:
            if group == 3 or text.startswith("${", position):
                variable, position = _scan_variable(text, start, position + (0 if group == 3 else 2))
                if variable is None:
                    break
                values.append(variable)
            else:
                values.append(_NumericString(token) if _NUMBER.fullmatch(token) else token)
            kinds.append(T_TOKEN)
        offsets.append(start)
    kinds.append(T_END)
    values.append("")
    offsets.append(length)
    return kinds, values, offsets


# The common texts hold nothing but blanks, operators, quoted strings and runs of token characters without
# "$". One findall() splits those; the run class is _SCANNER's group 4 without its "$x" branch, and the
# last alternative catches any other character (a "$", a lone '"', '[', '{', '~', a control character),
# which sends the text to _scan().
_SIMPLE_TOKEN = re.compile(
    r"[ \t\r\n]*("
    r"\|\||&&|==|=~|~~|>=|<=|!=|::|[|&=><+,\-*/%?!:()]"
    r'|"[^"]*"'
    r"|[^\x00-\x20!\"$%&()*+,\-/:<=>?\[\]`{|}~\x7f]+"
    r"|[^ \t\r\n])",
    re.DOTALL,
)
_UNUSUAL = frozenset('"$[]`{}~\x7f') | (frozenset(map(chr, range(0x20))) - frozenset("\t\r\n"))
_DIGITS = frozenset("0123456789")


def _scan_simple(text: str) -> _Tokens | None:
    """What :func:`_scan` returns for a plain ``text`` (offsets left uncomputed), or None for other texts.

    The token boundaries are the same as ``_scan()``'s because the alternatives and their order are the
    same and a plain text never reaches the ``${`` or default rules.
    """
    kinds: list[int] = []
    values: list[Value] = []
    kind_of = _OPERATORS.get
    # Trailing blanks make no token; left in, findall() would retry them from every offset (quadratic).
    for token in _SIMPLE_TOKEN.findall(text.rstrip(" \t\r\n")):
        kind = kind_of(token)
        if kind is not None:
            kinds.append(kind)
            values.append(token)
            continue
        first = token[0]
        if first in _UNUSUAL:
            if first != '"' or len(token) == 1:
                return None
            values.append(token)
        elif first in _DIGITS and _NUMBER.fullmatch(token):
            values.append(_NumericString(token))
        else:
            values.append(token)
        kinds.append(T_TOKEN)
    kinds.append(T_END)
    values.append("")
    return kinds, values, None


# --------------------------------------------------------------------------------------------------
# The grammar (ast_expr2.y), evaluated while it is parsed, as bison's actions do.  Levels from the
# %left/%right declarations, lowest first; unary '-' and '!' (%prec TOK_COMPL) sit between '* / %'
# and ': =~ ~~', so "-a : b" is "-(a : b)".

_LEVEL = [0] * 24
_LEVEL[T_COND] = 1
_LEVEL[T_OR] = 2
_LEVEL[T_AND] = 3
for _kind in (T_EQ, T_GT, T_LT, T_GE, T_LE, T_NE):
    _LEVEL[_kind] = 4
_LEVEL[T_PLUS] = _LEVEL[T_MINUS] = 5
_LEVEL[T_MULT] = _LEVEL[T_DIV] = _LEVEL[T_MOD] = 6
_UNARY_OPERAND_LEVEL = 8
_LEVEL[T_COLON] = _LEVEL[T_EQTILDE] = _LEVEL[T_TILDETILDE] = 8

_BINARY: dict[int, Callable[[Value, Value], Value]] = {
    T_OR: _op_or,
    T_AND: _op_and,
    T_EQ: _op_eq,
    T_GT: _op_gt,
    T_LT: _op_lt,
    T_GE: _op_ge,
    T_LE: _op_le,
    T_NE: _op_ne,
    T_PLUS: _op_plus,
    T_MINUS: _op_minus,
    T_MULT: _op_times,
    T_DIV: _op_div,
    T_MOD: _op_rem,
    T_COLON: _op_colon,
    T_EQTILDE: _op_eqtilde,
    T_TILDETILDE: _op_tildetilde,
}


class _Evaluator:
    __slots__ = ("text", "kinds", "values", "offsets", "index", "functions")

    def __init__(self, text: str, tokens: _Tokens, functions: FunctionReader | None) -> None:
        self.text = text
        self.kinds, self.values, self.offsets = tokens
        self.index = 0
        self.functions = functions

    def fail(self) -> ExpressionError:
        kind = self.kinds[self.index]
        offsets = self.offsets
        if offsets is None:
            offsets = _scan(self.text)[2]  # the same tokens as _scan_simple()'s, with their offsets
        return ExpressionError(f"syntax error, unexpected {_TOKEN_NAMES[kind]}", offsets[self.index])

    def run(self) -> Value:
        if self.kinds[0] == T_END:
            return ""  # "start: /* empty */" gives an empty string
        value = self.expression(1)
        if self.kinds[self.index] != T_END:
            raise self.fail()
        return value

    def expression(self, min_level: int) -> Value:
        left = self.operand()
        kinds = self.kinds
        while True:
            kind = kinds[self.index]
            level = _LEVEL[kind]
            if level < min_level:
                return left
            self.index += 1
            if kind == T_COND:
                middle = self.expression(1)
                if kinds[self.index] != T_COLONCOLON:
                    raise self.fail()
                self.index += 1
                left = _op_cond(left, middle, self.expression(2))
            else:
                left = _BINARY[kind](left, self.expression(level + 1))

    def operand(self) -> Value:
        kind = self.kinds[self.index]
        if kind == T_TOKEN:
            value = self.values[self.index]
            self.index += 1
            if self.kinds[self.index] == T_LP:
                return self.call(value)
            return value
        if kind == T_MINUS:
            self.index += 1
            return _op_negate(self.expression(_UNARY_OPERAND_LEVEL))
        if kind == T_COMPL:
            self.index += 1
            return _op_compl(self.expression(_UNARY_OPERAND_LEVEL))
        if kind == T_LP:
            self.index += 1
            value = self.expression(1)
            if self.kinds[self.index] != T_RP:
                raise self.fail()
            self.index += 1
            return value
        raise self.fail()

    def call(self, name: Value) -> Value:
        self.index += 1  # the '('
        arguments = [self.expression(1)]
        while self.kinds[self.index] == T_COMMA:
            self.index += 1
            if self.kinds[self.index] in (T_RP, T_COMMA):
                arguments.append("")  # "arglist TOK_COMMA": an empty argument is an empty string
            else:
                arguments.append(self.expression(1))
        if self.kinds[self.index] != T_RP:
            raise self.fail()
        self.index += 1
        return _call_function(name, arguments, self.functions)


def evaluate(text: str, *, functions: FunctionReader | None = None) -> str:
    """Evaluate the inside of ``$[...]`` (already substituted) and return what Asterisk 20 returns.

    Follows ``ast_str_expr()`` (``main/ast_expr2.fl``) and the grammar of ``main/ast_expr2.y``:

    * the result of a syntax error is ``"0"`` (a warning is logged on ``centralita.dialplan``),
      an empty expression gives ``""``;
    * numbers print with ``%.18Lg`` of an 80-bit long double (``3/2`` -> ``1.5``, ``1/3`` ->
      ``0.333333333333333333``, ``2**64`` -> ``1.84467440737095516e+19``, ``-0`` -> ``-0``);
    * strings come back as they are, double quotes included (``"abc"`` -> ``"abc"``).

    ``functions`` reads dialplan functions called without ``${}`` (``$[ LEN(abc) + 1 ]``); without it
    only the built-in math functions (``SQRT``, ``FLOOR``, ``POW``, ...) are known and any other name
    evaluates to 0, as in Asterisk when the function does not exist. Nothing is raised.
    """
    end = text.find("\x00")
    if end >= 0:
        text = text[:end]  # ast_yy_scan_string() sees a C string
    tokens = _scan_cache.get(text)
    if tokens is None:
        # A text the integer shortcut answers is never cached, so a cached one need not try it.
        if len(text) <= _SHORT_TEXT:
            result = _integer_expression(text)
            if result is not None:
                return result
        tokens = _tokens(text)
    return _run(text, tokens, functions)


# --------------------------------------------------------------------------------------------------
# The integer shortcut.  "${I} + 1" and "${I} < 2500" are most of what dialplans compute; with two decimal
# integers below 2**64 (which strtold() converts exactly) and a result that is an exact integer printing
# as itself under %.18Lg, Python ints give the long double result.

_BLANK = r"[ \t\r\n]*"
_INTEGER_OPERAND = rf"(-{_BLANK})?([0-9]{{1,20}})"
_INTEGER_EXPRESSION = re.compile(
    rf"{_BLANK}{_INTEGER_OPERAND}{_BLANK}(==|!=|<=|>=|[-+*%=<>]){_BLANK}{_INTEGER_OPERAND}{_BLANK}"
)
_TWO64 = 1 << 64
_E18 = 10**18
_INTEGER_COMPARISONS: dict[str, Callable[[int, int], bool]] = {
    "=": operator.eq,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _integer_expression(text: str) -> str | None:
    """``evaluate(text)`` when ``text`` is ``[-]A op [-]B`` with decimal integers, else None.

    Covers every comparison and ``+ - *`` with results below 10**18 in magnitude (``%.18Lg`` prints those
    digit for digit), and ``%`` of a non-negative dividend, where C's ``fmodl`` and Python's ``%`` agree.
    Left to the exact path: operands from 2**64 up (rounded to 64 bits), a negated zero (``-0`` is a
    long double of its own), a zero product with a negative factor (``-0``), division, a zero divisor
    (logged) and a negative dividend of ``%``. Unary minus binds tighter than these operators
    (``ast_expr2.y``), so the text is ``(-A) op (-B)``; no path taken here logs anything.
    """
    match = _INTEGER_EXPRESSION.fullmatch(text)
    if match is None:
        return None
    left_minus, left_digits, operation, right_minus, right_digits = match.groups()
    left, right = int(left_digits), int(right_digits)
    if left >= _TWO64 or right >= _TWO64:
        return None
    if left_minus:
        if not left:
            return None
        left = -left
    if right_minus:
        if not right:
            return None
        right = -right
    compare = _INTEGER_COMPARISONS.get(operation)
    if compare is not None:
        return "1" if compare(left, right) else "0"
    if operation == "+":
        result = left + right
    elif operation == "-":
        result = left - right
    elif operation == "*":
        result = left * right
        if not result and (left < 0 or right < 0):
            return None
    elif left < 0 or not right:
        return None
    else:
        result = left % abs(right)
    if -_E18 < result < _E18:
        return str(result)
    return None


def _evaluate_exact(text: str, functions: FunctionReader | None = None) -> str:
    """:func:`evaluate` without the integer shortcut: the scanner and grammar of ``ast_expr2.fl``/``.y``."""
    return _run(text, _tokens(text), functions)


def _run(text: str, tokens: _Tokens, functions: FunctionReader | None) -> str:
    """Parse and evaluate the tokens of ``text`` as ``ast_yyparse()`` does and print the result."""
    try:
        value = _Evaluator(text, tokens, functions).run()
    except ExpressionError as exc:
        _log.warning("ast_yyerror(): syntax error: %s; Input:\n%s\n%s^", exc.message, text, " " * exc.position)
        return "0"
    except RecursionError:
        # bison gives up ("memory exhausted") past YYMAXDEPTH; we give up earlier, at Python's limit.
        _log.warning("ast_yyerror(): syntax error: memory exhausted; Input:\n%s", text)
        return "0"
    if isinstance(value, str):
        return str.__str__(value)
    return format_number(value)
