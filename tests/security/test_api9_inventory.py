"""API9:2023 Improper Inventory Management: the routes the app serves are the routes it
documents, and each wants a token unless it is on the explicit public list. The routes are
read from the app at test time, so a route added without docs or auth fails here."""

import re

from fastapi.routing import iter_route_contexts

from contactflow.app import create_app
from tests.contacts.helpers import assert_error
from tests.security.helpers import PUBLIC_PREFIXES, PUBLIC_ROUTES, has_no_rate_headers
from tests.support import LiveServer, api_client


def _is_public(path: str) -> bool:
    return path in PUBLIC_ROUTES or path.startswith(PUBLIC_PREFIXES)


def _served(server: LiveServer) -> list[tuple[str, str]]:
    """(method, path) of every route of the app."""
    served: list[tuple[str, str]] = []
    for route in iter_route_contexts(create_app(server.settings).routes):
        assert route.path is not None, route
        served.extend(
            (method, route.path) for method in sorted((route.methods or set()) - {"HEAD"})
        )
    return served


async def test_every_route_is_documented_and_wants_a_token(server: LiveServer) -> None:
    served = _served(server)
    async with api_client(server.base_url, {}) as http:
        schema = (await http.get("/openapi.json")).json()
        documented = {
            (method.upper(), path)
            for path, item in schema["paths"].items()
            for method in item
            if method in ("get", "put", "post", "delete", "patch")
        }
        private = [(method, path) for method, path in served if not _is_public(path)]
        assert len(private) > 50
        for method, path in private:
            assert (method, path) in documented, f"{method} {path} is served but not documented"
            operation = schema["paths"][path][method.lower()]
            assert operation.get("security") == [{"HTTPBearer": []}], (method, path)
            assert "429" in operation["responses"], (method, path)
            # Called without a token, with any path parameters, it answers 401 and nothing else.
            concrete = re.sub(r"\{[^}]+\}", "someId0000000000000000001", path)
            body: dict[str, str] | None = None if method in ("GET", "DELETE") else {}
            response = await http.request(method, concrete, json=body)
            assert_error(response, 401)
            assert has_no_rate_headers(response)
    # Nothing documented that is not served (a stale entry is inventory drift too).
    assert documented <= set(served)


async def test_the_public_list_is_exact(server: LiveServer) -> None:
    public = {path for _, path in _served(server) if path in PUBLIC_ROUTES}
    # Each public route exists: the list does not hide a name that could be reused later.
    assert public == PUBLIC_ROUTES
    async with api_client(server.base_url, {}) as http:
        for path in sorted(PUBLIC_ROUTES):
            response = await http.get(re.sub(r"\{[^}]+\}", "unknownToken0000000001", path))
            # Public: it answers without asking for a token (a made-up path token is refused
            # on its own terms).
            assert response.status_code not in (401, 403), (path, response.text)
            assert response.status_code < 500, (path, response.text)
            if "{" not in path:
                assert response.status_code in (200, 307), (path, response.text)


async def test_documented_rate_limit_headers(server: LiveServer) -> None:
    async with api_client(server.base_url, {}) as http:
        schema = (await http.get("/openapi.json")).json()
    operation = schema["paths"]["/contacts/{contactId}"]["get"]
    for status in ("200", "404", "429"):
        headers = operation["responses"][status]["headers"]
        for name in (
            "X-RateLimit-Limit-Daily",
            "X-RateLimit-Daily-Remaining",
            "X-RateLimit-Interval-Milliseconds",
            "X-RateLimit-Max",
            "X-RateLimit-Remaining",
        ):
            assert headers[name]["schema"] == {"type": "integer", "minimum": 0}
    assert "Retry-After" in operation["responses"]["429"]["headers"]
    assert "headers" not in schema["paths"]["/health"]["get"]["responses"]["200"]
