"""The API benchmark's floor app: our routes' parameters, validated as ours validate them, and
the captured bytes back, with no work of ours behind them."""

from collections.abc import AsyncIterator

import httpx
import pytest
from bench.servers import BARE_ROUTES, Canned, floor_app

HEADERS = {"Authorization": "Bearer cf_live_x", "Version": "2021-07-28"}


@pytest.fixture
async def floor() -> AsyncIterator[httpx.AsyncClient]:
    bodies = {
        name: Canned(201 if method == "POST" and path == "/contacts/" else 200, name.encode())
        for name, (method, path) in BARE_ROUTES.items()
    }
    transport = httpx.ASGITransport(app=floor_app(bodies))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://floor", headers=HEADERS
    ) as client:
        yield client


async def test_each_route_answers_its_captured_bytes(floor: httpx.AsyncClient) -> None:
    search = {"locationId": "loc", "pageLimit": 20, "filters": []}
    answers = [
        await floor.get("/contacts/abc"),
        await floor.post("/contacts/", json={"locationId": "loc", "firstName": "Ada"}),
        await floor.get("/contacts/", params={"locationId": "loc", "limit": 100}),
        await floor.post("/contacts/search", json=search),
    ]
    assert [(answer.status_code, answer.content) for answer in answers] == [
        (200, b"get"),
        (201, b"create"),
        (200, b"list"),
        (200, b"search"),
    ]


async def test_parameters_are_validated_as_our_routes_validate_them(
    floor: httpx.AsyncClient,
) -> None:
    too_many = await floor.get("/contacts/", params={"locationId": "loc", "limit": 101})
    assert too_many.status_code == 422
    assert too_many.json()["detail"][0]["loc"] == ["query", "limit"]
    bad_body = await floor.post("/contacts/", json={"locationId": 5})
    assert bad_body.status_code == 422
    bad_search = await floor.post("/contacts/search", json={"pageLimit": "many"})
    assert bad_search.status_code == 422
