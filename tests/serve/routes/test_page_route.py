"""The page route alone: the page comes from the package."""

from __future__ import annotations

from pcnn_fer.serve.routes.page import STATIC, router


def test_the_page_is_the_packaged_one(alone):
    answer = alone(router).get("/")
    assert answer.status_code == 200 and answer.text == (STATIC / "index.html").read_text()
