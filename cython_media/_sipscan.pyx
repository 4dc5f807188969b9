# cython: language_level=3
"""SIP message framing, the common case: a received datagram split into start line (method and Request-URI,
or status code and reason phrase), header lines, body offset and body, the header lines indexed by key, in
one pass over the octets.

Same API and results as the pure twin ``_sipscan_py.py`` (its docstring says which form is handled; anything
else gives ``None`` and the caller's careful path).  The twin decodes the header block, splits it at CRLF,
counts CRs and LFs and partitions each line, making a tuple and strings per line; this walks the octets with
``memchr`` and makes only the strings the message keeps (the start line's parts, each line, each value).  A
header name is looked up as octets in a table of the ``known`` names made with the scanner (open addressing,
FNV-1a), so that the usual names need no string of their own; any other name is looked up in the dicts.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_GetItemWithError, PyDict_SetItem
from cpython.list cimport PyList_Append
from cpython.object cimport PyObject
from cpython.set cimport PySet_Contains
from cpython.tuple cimport PyTuple_GET_SIZE
from libc.string cimport memchr, memcmp, memcpy, memset

__all__ = ["DatagramScanner", "index_header_lines"]

cdef enum:
    _SLOTS = 1024  # a power of two; the table takes at most half as many names (about 220 are known)


cdef struct _Name:
    const char *text  # NULL: an empty slot
    Py_ssize_t size
    PyObject *key  # the header key (info[0]) of this name, kept alive by the scanner


cdef extern from "Python.h":
    str PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    void *PyUnicode_DATA(object text)
    str PyUnicode_DecodeUTF8(const char *data, Py_ssize_t size, const char *errors)


cdef inline bint _is_ascii(const char *data, Py_ssize_t size) noexcept:
    cdef unsigned char high = 0
    cdef Py_ssize_t i
    for i in range(size):
        high |= <unsigned char>data[i]
    return high < 0x80


cdef inline str _text(const char *data, Py_ssize_t size, bint ascii):
    """The octets as text: copied when ASCII, else decoded as the careful path does."""
    cdef str text
    if ascii:
        text = PyUnicode_New(size, 127)
        memcpy(PyUnicode_DATA(text), data, size)
        return text
    return PyUnicode_DecodeUTF8(data, size, "surrogateescape")


cdef inline object _key(object info):
    if type(info) is tuple and PyTuple_GET_SIZE(info) >= 1:
        return (<tuple>info)[0]
    return info[0]


cdef inline bint _add(dict index, object key, str value) except -1:
    cdef PyObject *values = PyDict_GetItemWithError(index, key)
    if values == NULL:
        PyDict_SetItem(index, key, [value])
    else:
        PyList_Append(<object>values, value)
    return 0


cdef inline PyObject *_info(dict known, dict unknown, str name) except? NULL:
    """``known[name]`` or ``unknown[name]``, NULL when neither has it (as ``dict.get`` gives ``None``)."""
    cdef PyObject *info = PyDict_GetItemWithError(known, name)
    if info == NULL or <object>info is None:
        info = PyDict_GetItemWithError(unknown, name)
        if info != NULL and <object>info is None:
            info = NULL
    return info


def index_header_lines(list header_lines, dict known, dict unknown):
    """The values of ``header_lines`` (unfolded, without the start line) by header key, each stripped of
    SP and HTAB, in order; ``None`` when a line is not ``name: value`` with a name in ``known`` or
    ``unknown``."""
    cdef dict index = {}
    cdef PyObject *info
    cdef Py_ssize_t position, size, start, stop
    cdef Py_UCS4 c
    cdef str text
    for line in header_lines:
        text = <str?>line
        size = len(text)
        position = text.find(": ")
        if position < 0:
            return None
        info = _info(known, unknown, text[:position])
        if info == NULL:
            return None
        start = position + 2
        stop = size
        while start < stop:
            c = text[start]
            if c != " " and c != "\t":
                break
            start += 1
        while stop > start:
            c = text[stop - 1]
            if c != " " and c != "\t":
                break
            stop -= 1
        _add(index, _key(<object>info), text[start:stop])
    return index


cdef inline bint _is_digit(char octet) noexcept:
    return b"0" <= octet <= b"9"


cdef object _body(bytes data, Py_ssize_t body_start, dict index):
    """The body as the twin frames it: the rest without Content-Length, its first Content-Length octets with
    one plain Content-Length the datagram holds, else None."""
    cdef Py_ssize_t available = PyBytes_GET_SIZE(data) - body_start
    cdef PyObject *lengths = PyDict_GetItemWithError(index, "content-length")
    cdef str text
    cdef Py_ssize_t size, i
    cdef long long length = 0
    cdef Py_UCS4 digit
    if lengths == NULL:
        return PyBytes_FromStringAndSize(PyBytes_AS_STRING(data) + body_start, available)
    if len(<list>lengths) != 1:
        return None
    text = <str>(<list>lengths)[0]
    size = len(text)
    if size == 0 or size > 10:
        return None
    for i in range(size):
        digit = text[i]
        if not (u"0" <= digit <= u"9"):
            return None
        length = length * 10 + (<long long>digit - 48)
    if length > available:
        return None
    return PyBytes_FromStringAndSize(PyBytes_AS_STRING(data) + body_start, <Py_ssize_t>length)


cdef inline unsigned int _hash(const char *data, Py_ssize_t size) noexcept:
    cdef unsigned int value = 2166136261u
    cdef Py_ssize_t i
    for i in range(size):
        value = (value ^ <unsigned char>data[i]) * 16777619u
    return value


cdef class DatagramScanner:
    """Frames received datagrams for a message layer that knows header names by ``known`` (read once, here)
    and ``unknown`` (read on every miss) and the methods ``methods``; see :meth:`scan`."""

    cdef dict _known
    cdef dict _unknown
    cdef object _methods
    cdef Py_ssize_t _max_headers
    cdef Py_ssize_t _max_head
    cdef list _keep  # the octets and keys the table points to
    cdef _Name _names[_SLOTS]

    def __init__(self, dict known, dict unknown, methods, Py_ssize_t max_headers, Py_ssize_t max_head):
        cdef bytes encoded
        cdef Py_ssize_t filled = 0
        cdef unsigned int slot
        self._known = known
        self._unknown = unknown
        self._methods = methods
        self._max_headers = max_headers
        self._max_head = max_head
        self._keep = []
        memset(self._names, 0, sizeof(self._names))
        for name, info in known.items():
            if filled >= _SLOTS // 2:
                break  # the others are found in the dict
            if type(name) is not str or not (<str>name).isascii() or type(info) is not tuple or len(info) < 1:
                continue  # found in the dict, as by the twin
            encoded = (<str>name).encode("ascii")
            key = (<tuple>info)[0]
            self._keep.append(encoded)
            self._keep.append(key)
            slot = _hash(encoded, len(encoded)) & (_SLOTS - 1)
            while self._names[slot].text != NULL:
                slot = (slot + 1) & (_SLOTS - 1)
            self._names[slot].text = PyBytes_AS_STRING(encoded)
            self._names[slot].size = len(encoded)
            self._names[slot].key = <PyObject *>key
            filled += 1

    cdef inline PyObject *_known_key(self, const char *name, Py_ssize_t size) noexcept:
        """The key of the known name ``name`` (octets), NULL when the table does not have it."""
        cdef unsigned int slot = _hash(name, size) & (_SLOTS - 1)
        cdef _Name *entry
        while True:
            entry = &self._names[slot]
            if entry.text == NULL:
                return NULL
            if entry.size == size and memcmp(entry.text, name, size) == 0:
                return entry.key
            slot = (slot + 1) & (_SLOTS - 1)

    def scan(self, data):
        """``(method, Request-URI, 0, header lines, index, body offset, body)`` of a request in ``data``,
        ``(None, reason phrase, status code, header lines, index, body offset, body)`` of a response, or
        ``None`` when ``data`` is not of the usual form, when its header block (without the empty line) is
        longer than ``max_head`` octets or when it has more than ``max_headers`` header lines.  ``body`` is
        ``None`` when the caller's framing checks must decide (see the twin)."""
        if type(data) is not bytes:
            return None
        cdef const char *base = PyBytes_AS_STRING(data)
        cdef const char *end = base + PyBytes_GET_SIZE(data)
        cdef const char *line = base
        cdef const char *cr
        cdef const char *colon
        cdef const char *value
        cdef const char *value_end
        cdef const char *space
        cdef const char *second_space
        cdef Py_ssize_t lines = 0
        cdef Py_ssize_t max_head = self._max_head
        cdef Py_ssize_t max_headers = self._max_headers
        cdef bint ascii
        cdef object method = None
        cdef str text = None
        cdef int status = 0
        cdef list header_lines = []
        cdef dict index = {}
        cdef PyObject *info = NULL
        cdef PyObject *key
        while True:
            cr = <const char *>memchr(line, b"\r", end - line)
            if cr == NULL or cr + 1 >= end or cr[1] != b"\n":
                return None  # no empty line, or a bare CR
            if memchr(line, b"\n", cr - line) != NULL:
                return None  # a bare LF
            if cr == line:
                break
            if cr - base > max_head or lines > max_headers:
                return None
            ascii = _is_ascii(line, cr - line)
            if lines == 0:
                if cr - line >= 8 and memcmp(line, b"SIP/2.0 ", 8) == 0:
                    # "SIP/2.0 NNN", NNN from 100 to 699, then the end or SP and the reason phrase (may be empty).
                    value = line + 8
                    if not (
                        cr - value >= 3
                        and b"1" <= value[0] <= b"6"
                        and _is_digit(value[1])
                        and _is_digit(value[2])
                        and (cr - value == 3 or value[3] == b" ")
                    ):
                        return None
                    status = (value[0] - 48) * 100 + (value[1] - 48) * 10 + (value[2] - 48)
                    text = _text(value + 4, cr - value - 4, ascii) if cr - value > 3 else ""
                else:
                    # "METHOD SP Request-URI SP SIP/2.0": exactly two SPs, a method the caller names, a URI.
                    space = <const char *>memchr(line, b" ", cr - line)
                    if space == NULL:
                        return None
                    second_space = <const char *>memchr(space + 1, b" ", cr - space - 1)
                    if (
                        second_space == NULL
                        or second_space == space + 1
                        or cr - second_space != 8
                        or memcmp(second_space + 1, b"SIP/2.0", 7) != 0
                    ):
                        return None
                    method = _text(line, space - line, ascii)
                    if not PySet_Contains(self._methods, method):
                        return None
                    text = _text(space + 1, second_space - space - 1, ascii)
            else:
                # The first ": " ends the name, as str.partition(": ") finds it.
                colon = line
                while True:
                    colon = <const char *>memchr(colon, b":", cr - colon)
                    if colon == NULL:
                        return None
                    if colon + 1 < cr and colon[1] == b" ":
                        break
                    colon += 1
                key = self._known_key(line, colon - line)
                if key == NULL:
                    info = _info(self._known, self._unknown, _text(line, colon - line, ascii))
                    if info == NULL:
                        return None
                value = colon + 2
                value_end = cr
                while value < value_end and (value[0] == b" " or value[0] == b"\t"):
                    value += 1
                while value_end > value and ((value_end - 1)[0] == b" " or (value_end - 1)[0] == b"\t"):
                    value_end -= 1
                _add(index, <object>key if key != NULL else _key(<object>info), _text(value, value_end - value, ascii))
                header_lines.append(_text(line, cr - line, ascii))
            lines += 1
            line = cr + 2
        if lines == 0:
            return None  # a leading CRLF
        body_start = cr + 2 - base
        return method, text, status, header_lines, index, body_start, _body(data, body_start, index)
