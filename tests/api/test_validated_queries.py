"""A route's validated query is kept per raw query string, and shared safely."""

from __future__ import annotations

import pytest
import voluptuous as vol

from apf_core.api.framework import ValidatedQueries, page_query
from apf_core.errors import ValidationFailed


def test_a_query_is_validated_once_and_each_caller_gets_its_own_copy() -> None:
    calls = []

    def raw() -> dict[str, str]:
        calls.append(1)
        return {"limit": "20"}

    queries = ValidatedQueries(vol.Schema(page_query(), extra=vol.REMOVE_EXTRA))
    first = queries.get("limit=20", raw)
    assert first == {"limit": 20, "offset": 0}
    first["limit"] = 999  # a handler that changes its query changes only its copy
    assert queries.get("limit=20", raw) == {"limit": 20, "offset": 0}
    assert len(calls) == 1


def test_refused_and_mutable_queries_are_not_kept() -> None:
    schema = vol.Schema({vol.Optional("ids"): [str], vol.Optional("limit"): vol.Coerce(int)})
    queries = ValidatedQueries(schema)
    for _ in range(2):
        with pytest.raises(ValidationFailed, match="limit"):
            queries.get("limit=x", lambda: {"limit": "x"})
    calls = []

    def raw() -> dict[str, object]:
        calls.append(1)
        return {"ids": ["a"]}

    kept = queries.get("ids=a", raw)  # type: ignore[arg-type]
    kept["ids"].append("b")
    assert queries.get("ids=a", raw) == {"ids": ["a"]}  # type: ignore[arg-type]
    assert len(calls) == 2


def test_the_store_is_bounded() -> None:
    queries = ValidatedQueries(vol.Schema({vol.Optional("n"): vol.Coerce(int)}), size=3)
    for n in range(10):
        assert queries.get(f"n={n}", lambda n=n: {"n": str(n)}) == {"n": n}
    assert len(queries._seen) <= 3
