"""SeenKeys: the on-disk record of keys already met in one import file."""

from __future__ import annotations

import pytest

from fieldlog.io.seen import SeenKeys


def test_first_line_is_reported_and_kept():
    seen = SeenKeys()
    try:
        assert [seen.add(key, line) for line, key in enumerate(["a", "b", "a", "a", "B"], 2)] == [
            None,
            None,
            2,
            2,  # always the first line, not the previous duplicate
            None,  # keys are compared exactly
        ]
        chunks = list(seen.chunks(2))
        assert [len(c) for c in chunks] == [2, 1]
        assert sorted(k for c in chunks for k in c) == ["B", "a", "b"]
    finally:
        seen.close()


def test_closed_ledger_refuses_use_and_closes_twice():
    seen = SeenKeys()
    seen.close()
    seen.close()
    with pytest.raises(RuntimeError):
        seen.add("a", 2)
