"""JSON from a node, decoded within bounds: size, nesting depth and integer length.

Pure module (standard library only). Python's :func:`json.loads` has no limits of its own:
deeply nested arrays exhaust the stack (``RecursionError``), and an integer of a few
hundred digits decodes fine but raises ``OverflowError`` wherever it is turned into a
float. :func:`load_bounded` checks the size and the nesting depth *before* decoding and
decodes every integer longer than :data:`MAX_INTEGER_DIGITS` digits as a
:class:`LongInteger`, which is neither an ``int`` nor a ``float``: every type check of a
number refuses it, so a field holding one is refused like any other wrong type, and only
that field's reading or document is affected.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

MAX_INTEGER_DIGITS: Final = 19
"""The longest integer decoded as ``int``: every 64-bit integer (seqs) fits."""
# A string, or an unterminated one up to the end (so that no quote is scanned twice: the
# scan stays linear whatever the payload). The decoder reads strings the same way up to
# where it fails, so it never nests deeper than the brackets counted outside them.
_STRING: Final = re.compile(r'"(?:[^"\\]|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_A_BRACKET: Final = re.compile(r"[^\[\]{}]+")
# A \uD800-\uDFFF escape: JSON may pair two into one character, but a lone one decodes to
# a str that cannot be encoded again (not stored, not written to the database).
_SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F]")
_EMPTY_PAIR: Final = re.compile(r"\[\]|\{\}")


class BoundedJsonError(ValueError):
    """The payload is too large, too deeply nested, not UTF-8 or not JSON."""


class LongInteger:
    """An integer of more digits than :data:`MAX_INTEGER_DIGITS`: no usable number."""

    __slots__ = ("digits",)

    def __init__(self, text: str) -> None:
        """Remember how long it was (not the digits: they are of no use)."""
        self.digits = len(text.lstrip("-"))

    def __repr__(self) -> str:
        """For messages: says what it was without repeating it."""
        return f"<an integer of {self.digits} digits>"


def _integer(text: str) -> int | LongInteger:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        return LongInteger(text)
    return int(text)


def within_depth(text: str, max_depth: int) -> bool:
    """Whether the arrays and objects of ``text`` nest at most ``max_depth`` deep and match.

    Brackets inside strings do not count. Each round removes every innermost empty pair
    (``[]``, ``{}``) of what is left once strings and everything but brackets are gone,
    so matched brackets nested at most ``max_depth`` deep are all gone after
    ``max_depth`` rounds; anything left is deeper, or brackets that do not match (not
    JSON either way). Linear in the length for a fixed depth.
    """
    brackets = _NOT_A_BRACKET.sub("", _STRING.sub("", text))
    for _ in range(max_depth):
        if not brackets:
            return True
        brackets = _EMPTY_PAIR.sub("", brackets)
    return not brackets


def load_bounded(payload: bytes | bytearray | str, *, max_bytes: int, max_depth: int) -> Any:
    """Decode ``payload`` (UTF-8 JSON) if it is at most ``max_bytes`` and ``max_depth`` deep.

    Raises :class:`BoundedJsonError` otherwise, or when it is not UTF-8 or not JSON.
    Integers longer than :data:`MAX_INTEGER_DIGITS` digits become :class:`LongInteger`;
    ``NaN`` and ``Infinity`` stay floats (callers check numbers for finiteness anyway).
    """
    if isinstance(payload, str):
        if len(payload) > max_bytes:
            raise BoundedJsonError(f"more than {max_bytes} bytes")
        try:
            size = len(payload.encode())
        except UnicodeEncodeError as err:
            raise BoundedJsonError(f"not UTF-8: {err}") from err
        if size > max_bytes:
            raise BoundedJsonError(f"{size} bytes exceed {max_bytes}")
        text = payload
    else:
        raw = bytes(payload)
        if len(raw) > max_bytes:
            raise BoundedJsonError(f"{len(raw)} bytes exceed {max_bytes}")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise BoundedJsonError(f"not UTF-8: {err}") from err
    if not within_depth(text, max_depth):
        raise BoundedJsonError(f"nested deeper than {max_depth} levels, or brackets do not match")
    try:
        value = json.loads(text, parse_int=_integer)
    except ValueError as err:  # JSONDecodeError
        raise BoundedJsonError(f"not JSON: {err}") from err
    if _SURROGATE_ESCAPE.search(text) and _holds_lone_surrogate(value):
        raise BoundedJsonError("holds a lone UTF-16 surrogate, which is no text")
    return value


def _holds_lone_surrogate(value: Any) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False
