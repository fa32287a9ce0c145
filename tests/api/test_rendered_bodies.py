"""A cached read's JSON body is rendered once per data object, and the store is bounded."""

from __future__ import annotations

import json

import pytest

from apf_core.api import framework
from apf_core.api.framework import RenderedBodies


def _body(response: object) -> dict[str, object]:
    return dict(json.loads(response.body))  # type: ignore[attr-defined]


def test_the_same_data_object_reuses_its_body(monkeypatch: pytest.MonkeyPatch) -> None:
    rendered = []
    real = framework._dumps

    def counting(value: object) -> bytes:
        rendered.append(value)
        return real(value)

    monkeypatch.setattr(framework, "_dumps", counting)
    bodies = RenderedBodies(size=8)
    view = {"status": "idle"}
    first = bodies.ok("p1", view)
    assert bodies.ok("p1", view).body is first.body
    assert len(rendered) == 1
    changed = {"status": "printing"}  # a new object: the data changed
    assert _body(bodies.ok("p1", changed)) == {"success": True, "data": changed}
    assert len(rendered) == 2
    rows = [{"id": 1}]
    page = bodies.paged("jobs", rows, 50, 0)
    assert _body(page) == {
        "success": True,
        "data": rows,
        "meta": {"limit": 50, "offset": 0, "count": 1},
    }
    assert bodies.paged("jobs", rows, 50, 0).body is page.body


def test_the_store_is_bounded() -> None:
    bodies = RenderedBodies(size=4)
    kept = [{"n": n} for n in range(10)]
    for n, data in enumerate(kept):
        bodies.ok(n, data)
    assert len(bodies._bodies) <= 4
    assert _body(bodies.ok(9, kept[9])) == {"success": True, "data": {"n": 9}}
