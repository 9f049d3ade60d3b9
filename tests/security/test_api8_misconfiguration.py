"""API8:2023 Security Misconfiguration: no debug pages or stack traces (an internal error is a
500 envelope with a trace id, the details only in the log), no permissive CORS, the security
headers on every kind of response, HSTS only over TLS, and a docs page policy that lets the
docs run and nothing else."""

import base64
import hashlib
import logging
import re
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter

from contactflow.app import create_app
from contactflow.platform.auth.http import requires
from contactflow.platform.auth.principal import Principal
from contactflow.platform.auth.scopes import CONTACTS_READ
from contactflow.platform.security_headers import API_POLICY
from tests.contacts.helpers import assert_error
from tests.security.conftest import StartServer
from tests.security.helpers import rate_headers
from tests.support import LiveServer, Tenant, api_client, live_server, server_settings

SECRET_DETAIL = "connection to db-internal.example:5432 failed for user admin"
FIXED_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def assert_security_headers(response: httpx.Response, *, policy: str | None = API_POLICY) -> None:
    for name, value in FIXED_HEADERS.items():
        assert response.headers.get_list(name) == [value], (name, response.url)
    if policy is not None:
        assert response.headers.get_list("content-security-policy") == [policy], response.url


async def test_an_internal_error_is_an_envelope_without_details(
    database_url: str, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    settings = server_settings(database_url, embedded_workers=False)
    app = create_app(settings)
    broken = APIRouter()

    @broken.get("/test-only/boom")
    async def boom(caller: Annotated[Principal, requires(CONTACTS_READ)]) -> None:
        raise RuntimeError(SECRET_DETAIL)

    app.include_router(broken)
    with live_server(settings, app) as server, caplog.at_level(logging.ERROR, "contactflow"):
        async with api_client(server.base_url, tenant.headers) as http:
            response = await http.get("/test-only/boom")
    body = assert_error(response, 500)
    assert set(body) == {"statusCode", "message", "error", "traceId"}
    assert body["message"] == "Internal server error"
    for leak in (SECRET_DETAIL, "RuntimeError", "Traceback", "File ", ".py"):
        assert leak not in response.text
    assert_security_headers(response)
    # Authenticated before it failed: the counts are there as on any other answer.
    assert rate_headers(response)["x-ratelimit-remaining"] == 999_999
    # The details are in the log, under the trace id the client was given.
    logged = [record for record in caplog.records if body["traceId"] in record.getMessage()]
    assert logged
    assert logged[0].exc_info is not None
    assert SECRET_DETAIL in str(logged[0].exc_info[1])


async def test_no_debug_pages_and_every_response_has_the_headers(
    server: LiveServer, tenant: Tenant
) -> None:
    async with api_client(server.base_url, tenant.headers) as http:
        unknown = await http.get("/definitely/not/a/route")
        assert_error(unknown, 404)
        not_allowed = await http.request("TRACE", "/health")
        assert_error(not_allowed, 405)
        assert "TRACE" not in not_allowed.headers["allow"]
        too_large = await http.post("/contacts/", content=b"x" * (1024 * 1024 + 1))
        assert_error(too_large, 413)
        anonymous = await http.get("/contacts/", headers={"Authorization": ""})
        assert_error(anonymous, 401)
        home = await http.get("/")
        assert home.status_code == 307
        for response in (unknown, not_allowed, too_large, anonymous, home):
            assert "text/html" not in response.headers.get("content-type", "")
            assert_security_headers(response)
        listed = await http.get("/contacts/")
        assert listed.status_code == 200
        assert_security_headers(listed)
        # Served over plain http without a trusted proxy: no HSTS (it would be a claim of TLS).
        assert "strict-transport-security" not in listed.headers


async def test_no_cross_origin_access_is_granted(server: LiveServer, tenant: Tenant) -> None:
    origin = {"Origin": "https://evil.example"}
    async with api_client(server.base_url, {}) as http:
        preflight = await http.options(
            "/contacts/",
            headers={**origin, "Access-Control-Request-Method": "DELETE"},
        )
        simple = await http.get("/contacts/", headers={**origin, **tenant.headers})
    assert simple.status_code == 200
    for response in (preflight, simple):
        assert not [name for name in response.headers if name.startswith("access-control-")]


@pytest.mark.parametrize(
    ("trust_proxy", "forwarded_proto", "expected"),
    [
        (True, "https", True),
        (True, "http", False),
        (True, "https, http", False),  # the last entry is the trusted proxy's
        (True, None, False),
        (False, "https", False),  # anyone can send the header when no proxy is trusted
    ],
)
async def test_hsts_is_sent_only_for_tls_seen_by_a_trusted_proxy(
    start_server: StartServer, trust_proxy: bool, forwarded_proto: str | None, expected: bool
) -> None:
    server = start_server(trust_proxy=trust_proxy)
    headers = {"X-Forwarded-Proto": forwarded_proto} if forwarded_proto else {}
    async with api_client(server.base_url, headers) as http:
        response = await http.get("/health")
    hsts = response.headers.get_list("strict-transport-security")
    assert hsts == (["max-age=31536000; includeSubDomains"] if expected else [])


def _policy(response: httpx.Response) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in response.headers["content-security-policy"].split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def _loaded(html: str) -> list[str]:
    """What a docs page loads: its scripts, and its stylesheets and icon."""
    return re.findall(r'<script src="([^"]+)"', html) + re.findall(
        r'<link[^>]*href="([^"]+)"', html
    )


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/docs/oauth2-redirect"])
async def test_the_docs_pages_policy_allows_what_they_load(server: LiveServer, path: str) -> None:
    async with api_client(server.base_url, {}) as http:
        page = await http.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    directives = _policy(page)
    assert_security_headers(page, policy=None)
    assert directives["default-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    scripts = directives["script-src"]
    assert "'unsafe-inline'" not in scripts
    assert "'unsafe-eval'" not in scripts
    html = page.text
    inline = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    for script in inline:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in scripts
    # Nothing is allowed from anywhere but this origin.
    everywhere = [source for sources in directives.values() for source in sources]
    assert not [source for source in everywhere if "//" in source or "*" in source]
    for url in _loaded(html):
        assert re.fullmatch(r"/[^/].*", url), url
    if path == "/docs":
        # Swagger UI fetches the schema and sends "try it out" calls to this origin.
        assert inline
        assert "/openapi.json" in inline[0]
        assert directives["connect-src"] == ["'self'"]


ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
async def test_the_docs_pages_load_everything_from_this_server(
    server: LiveServer, path: str
) -> None:
    """Swagger UI and ReDoc work without internet: each script, stylesheet and icon a docs
    page names is served here, as what it is (bundles of a megabyte or two: a loaded machine
    may take seconds to send one)."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
        page = await http.get(path)
        assert page.status_code == 200
        loaded = _loaded(page.text)
        assert len(loaded) >= 2  # the bundle and the icon, at least
        for url in loaded:
            # On this host: a path, not a URL (nor a scheme-relative one).
            assert re.fullmatch(r"/[^/].*", url), url
            asset = await http.get(url)
            assert asset.status_code == 200, url
            kind = ASSET_TYPES[url[url.rindex(".") :]]
            assert asset.headers["content-type"].split(";")[0] == kind, url
            assert len(asset.content) > 1000, url
