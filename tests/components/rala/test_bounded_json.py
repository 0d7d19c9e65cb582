"""JSON from a node decoded within bounds: size, depth, long integers, no broken text."""

from __future__ import annotations

import pytest

from custom_components.rala.bounded_json import BoundedJsonError, LongInteger, load_bounded


def test_text_with_paired_surrogate_escapes_is_kept() -> None:
    assert load_bounded(b'{"name": "\\ud83c\\udf31 Tent"}', max_bytes=100, max_depth=4) == {
        "name": "\U0001f331 Tent"
    }


@pytest.mark.parametrize(
    "payload",
    [b'{"name": "\\ud800"}', b'["\\udc00x"]', b'{"\\uDBFF": 1}', b'"a\\ud83c"'],
)
def test_a_lone_surrogate_is_no_text(payload: bytes) -> None:
    with pytest.raises(BoundedJsonError, match="lone UTF-16 surrogate"):
        load_bounded(payload, max_bytes=100, max_depth=4)


def test_an_escaped_backslash_before_u_is_plain_text() -> None:
    assert load_bounded(b'["\\\\ud800"]', max_bytes=100, max_depth=4) == ["\\ud800"]


def test_size_depth_and_long_integers() -> None:
    with pytest.raises(BoundedJsonError, match="exceed"):
        load_bounded(b"[" + b"1," * 60 + b"1]", max_bytes=100, max_depth=4)
    with pytest.raises(BoundedJsonError, match="nested deeper"):
        load_bounded(b"[[[[[1]]]]]", max_bytes=100, max_depth=4)
    decoded = load_bounded(b"[" + b"9" * 30 + b"]", max_bytes=100, max_depth=4)
    assert isinstance(decoded[0], LongInteger)
