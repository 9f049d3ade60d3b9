"""Routers whose prefix a request's path does not start with are passed over unasked."""

from collections import Counter

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import _IncludedRouter

from contactflow.platform.route_prefixes import skip_by_prefix


def _app() -> FastAPI:
    alpha = APIRouter(prefix="/alpha")
    beta = APIRouter(prefix="/beta/{kind}")
    bare = APIRouter()

    @alpha.get("/{item}")
    async def alpha_item(item: str) -> dict[str, str]:
        return {"alpha": item}

    @beta.get("/items")
    async def beta_items(kind: str) -> dict[str, str]:
        return {"beta": kind}

    @bare.get("/gamma")
    async def gamma() -> dict[str, str]:
        return {"gamma": "yes"}

    app = FastAPI()
    for router in (alpha, beta, bare):
        app.include_router(router)
    skip_by_prefix(app)
    return app


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often each router was asked to match, by its prefix."""
    counts: Counter[str] = Counter()
    match = _IncludedRouter._match

    def counting(self: _IncludedRouter, scope: dict[str, object]) -> object:
        counts[self.original_router.prefix] += 1
        return match(self, scope)

    monkeypatch.setattr(_IncludedRouter, "_match", counting)
    return counts


async def test_a_request_asks_only_the_routers_its_path_is_under(asked: Counter[str]) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(_app()), base_url="http://t") as c:
        beta = await c.get("/beta/blue/items")
        assert (beta.status_code, beta.json()) == (200, {"beta": "blue"})
        assert asked["/alpha"] == 0
        beta_asked = asked["/beta/{kind}"]
        gamma = await c.get("/gamma")
        assert (gamma.status_code, gamma.json()) == (200, {"gamma": "yes"})
        # A router without a prefix is asked as before; the prefixed ones are passed over.
        assert asked[""] > 0
        assert asked["/alpha"] == 0
        assert asked["/beta/{kind}"] == beta_asked


async def test_matches_misses_and_wrong_methods_answer_as_before() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(_app()), base_url="http://t") as c:
        found = await c.get("/alpha/one")
        assert (found.status_code, found.json()) == (200, {"alpha": "one"})
        assert (await c.get("/alphabet")).status_code == 404
        assert (await c.get("/nowhere")).status_code == 404
        assert (await c.post("/alpha/one")).status_code == 405


def test_the_app_documents_the_same_routes_once_prefixes_are_checked() -> None:
    plain = FastAPI()
    checked = _app()
    for router in checked.router.routes:
        if isinstance(router, _IncludedRouter):
            plain.include_router(router.original_router)
    assert checked.openapi()["paths"] == plain.openapi()["paths"]


async def test_the_chosen_router_walks_its_routes_once_per_request(asked: Counter[str]) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(_app()), base_url="http://t") as c:
        for item in ("one", "two"):
            found = await c.get(f"/alpha/{item}")
            assert (found.status_code, found.json()) == (200, {"alpha": item})
        assert asked["/alpha"] == 2
        # Asked again for the other spelling of the path (redirect_slashes), not answered from
        # the first ask.
        assert (await c.get("/alpha/one/", follow_redirects=False)).status_code == 307
        assert asked["/alpha"] == 4
