"""Where webhooks may go (SSRF guard) and what the /webhooks API refuses: every refusal is a
4xx naming the field, and nothing is saved."""

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from contactflow.platform.db import Database
from contactflow.platform.jobs import RetrySchedule
from contactflow.platform.webhooks.delivery import Deliverer, DeliverySettings
from contactflow.platform.webhooks.dispatch import fan_out
from contactflow.platform.webhooks.models import FAILED
from contactflow.platform.webhooks.signing import installation_signer
from contactflow.platform.webhooks.ssrf import UnsafeUrl, UrlPolicy
from contactflow.platform.webhooks.transport import Poster
from tests.receiver import Receiver
from tests.support import LiveServer, Tenant, api_client, live_server, make_tenant, server_settings
from tests.webhooks.helpers import (
    TenantFactory,
    add_endpoint,
    add_endpoint_row,
    assert_error,
    create_contacts,
    json_of,
    stored_deliveries,
)

REFUSED = [
    "http://localhost/hook",
    "http://10.0.0.1/",
    "http://169.254.169.254/latest",
    "http://[::1]/",
    "http://127.0.0.1:9/hook",
    "http://192.168.1.20/",
    "http://172.16.5.4/",
    "http://[fe80::1]/",
    "http://[fd00:ec2::254]/",
    "http://[::ffff:127.0.0.1]/",
    "http://0.0.0.0/",
    "http://100.100.100.200/latest/meta-data",
]
OPEN_POLICY = UrlPolicy(allow_http=True, allowed=[])


@pytest.fixture(scope="module")
def sandbox(database_url: str) -> Iterator[LiveServer]:
    """Development mode (http allowed) without the loopback allowlist."""
    settings = server_settings(database_url, webhook_allowed_networks=[], embedded_workers=False)
    with live_server(settings) as running:
        yield running


@pytest.fixture(scope="module")
def strict(database_url: str) -> Iterator[LiveServer]:
    """Production settings: https only, nothing allowlisted."""
    settings = server_settings(
        database_url, dev_mode=False, webhook_allowed_networks=[], embedded_workers=False
    )
    with live_server(settings) as running:
        yield running


def client_of(server: LiveServer, tenant: Tenant) -> httpx.AsyncClient:
    return api_client(server.base_url, tenant.headers)


@pytest.mark.parametrize("url", REFUSED)
async def test_the_policy_refuses_non_public_addresses(url: str) -> None:
    with pytest.raises(UnsafeUrl, match=r"^url: "):
        await OPEN_POLICY.check(url)


async def test_the_operator_allowlist_opens_networks_and_hosts() -> None:
    policy = UrlPolicy(allow_http=True, allowed=["10.0.0.0/8", "localhost", "::1"])
    for url in ("http://10.0.0.1/", "http://10.9.8.7:8080/x", "http://localhost/", "http://[::1]/"):
        await policy.check(url)
    with pytest.raises(UnsafeUrl, match=r"169\.254\.169\.254"):
        await policy.check("http://169.254.169.254/latest")


@pytest.mark.parametrize("url", REFUSED)
async def test_the_api_refuses_non_public_urls_with_a_422_naming_url(
    sandbox: LiveServer, tenant: Tenant, url: str
) -> None:
    async with client_of(sandbox, tenant) as http:
        line = assert_error(await http.post("/webhooks", json={"url": url}), 422, "url")
        assert "address" in line or "resolve" in line, line
        assert json_of(await http.get("/webhooks")) == {"endpoints": []}


async def test_changing_an_endpoint_to_a_private_url_is_refused(
    sandbox: LiveServer, client: httpx.AsyncClient, tenant: Tenant, hook: Receiver
) -> None:
    endpoint, _ = await add_endpoint(client, hook.url())
    async with client_of(sandbox, tenant) as http:
        changed = await http.put(f"/webhooks/{endpoint['id']}", json={"url": "http://10.0.0.1/"})
        assert_error(changed, 422, "url")
        current = json_of(await http.get(f"/webhooks/{endpoint['id']}"))["endpoint"]
    assert current["url"] == hook.url()


async def test_http_urls_need_development_mode(strict: LiveServer, tenant: Tenant) -> None:
    async with client_of(strict, tenant) as http:
        line = assert_error(
            await http.post("/webhooks", json={"url": "http://example.com/hook"}), 422, "url"
        )
        assert "https" in line
        line = assert_error(
            await http.post("/webhooks", json={"url": "https://localhost/hook"}), 422, "url"
        )
        assert "non-public address" in line
        assert json_of(await http.get("/webhooks")) == {"endpoints": []}


async def test_a_url_refused_at_delivery_time_fails_without_a_request(
    isolated_db: Database, hook: Receiver
) -> None:
    """The guard runs again before each attempt (the operator may have narrowed the allowlist,
    or a name may resolve elsewhere now): the attempt is logged as refused, never sent."""
    tenant = await make_tenant(isolated_db)
    endpoint = await add_endpoint_row(isolated_db, tenant.location_id, hook.url())
    await create_contacts(isolated_db, tenant.location_id, ["Ann"])
    assert await fan_out(isolated_db)
    settings = DeliverySettings(
        schedule=RetrySchedule((0.05,)),
        lease=timedelta(seconds=5),
        batch_size=10,
        disable_after=timedelta(days=5),
        timeout_seconds=5,
    )
    signer = await installation_signer(isolated_db)
    poster = Poster()
    deliverer = Deliverer(isolated_db, poster, signer, OPEN_POLICY, settings, "test-worker")
    assert await deliverer.step()
    assert not await deliverer.step()
    await poster.aclose()
    [row] = await stored_deliveries(isolated_db, endpoint.id)
    assert row.state == FAILED
    assert row.attempts == 1
    assert row.last_status is None
    assert row.last_error is not None
    assert row.last_error.startswith("refused: url: 127.0.0.1 resolves to a non-public address")
    assert hook.started == 0


BAD_CREATES: dict[str, tuple[dict[str, object], str]] = {
    "unknown event type": ({"eventTypes": ["ContactCreate", "ContactCreated"]}, "eventTypes"),
    "not http(s)": ({"url": "ftp://example.com/hook"}, "url"),
    "credentials in url": ({"url": "http://user:pw@127.0.0.1:1/"}, "url"),
    "no host": ({"url": "http:///hook"}, "url"),
    "path run into the port": ({"url": "http://127.0.0.1:37347hooks/x"}, "url"),
    "port out of range": ({"url": "https://example.com:99999/hook"}, "url"),
    "url too long": ({"url": "https://example.com/" + "a" * 2100}, "url"),
    "unclosed IPv6 host": ({"url": "http://[::1/hook"}, "url"),
    "empty host label": ({"url": "http://a..example.com/hook"}, "url"),
    "host label over 63 characters": ({"url": f"http://{'a' * 64}.example.com/"}, "url"),
    "unknown field": ({"secret": "whsec_mine"}, "secret"),
    "ordered not a bool": ({"ordered": "sometimes"}, "ordered"),
    "event types not a list": ({"eventTypes": "ContactCreate"}, "eventTypes"),
}


@pytest.mark.parametrize("case", BAD_CREATES)
async def test_bad_endpoints_are_refused_with_the_field_named(
    client: httpx.AsyncClient, hook: Receiver, case: str
) -> None:
    fields, named = BAD_CREATES[case]
    created = await client.post("/webhooks", json={"url": hook.url(), **fields})
    line = assert_error(created, 422, named)
    if case == "unknown event type":
        assert "ContactCreated" in line
        assert "'ContactCreate'" not in line
    assert json_of(await client.get("/webhooks")) == {"endpoints": []}


async def test_the_webhooks_api_refuses_bad_requests_naming_the_field(
    client: httpx.AsyncClient,
    hook: Receiver,
    new_tenant: TenantFactory,
    server: LiveServer,
) -> None:
    endpoint, _ = await add_endpoint(client, hook.url())
    base = f"/webhooks/{endpoint['id']}"
    assert_error(await client.post("/webhooks", json={}), 422, "url")
    assert_error(await client.put(base, json={"eventTypes": ["Nope"]}), 422, "eventTypes")
    assert json_of(await client.get(base))["endpoint"]["eventTypes"] == []
    assert_error(await client.post(f"{base}/recover", json={}), 422, "since")
    assert_error(await client.post(f"{base}/recover", json={"since": "yesterday"}), 422, "since")
    assert_error(await client.get(f"{base}/deliveries", params={"state": "lost"}), 422, "state")
    assert_error(await client.get(f"{base}/deliveries", params={"cursor": "abc"}), 422, "cursor")
    assert_error(await client.get(f"{base}/deliveries", params={"limit": 0}), 422, "limit")
    assert_error(await client.post(f"{base}/deliveries/nope/resend"), 404, "Delivery")
    assert_error(await client.get(f"{base}/deliveries/nope/attempts"), 404, "Delivery")
    assert_error(await client.get("/webhooks/nope"), 404, "endpoint")
    assert_error(await client.post("/webhooks/nope/rotate-secret"), 404, "endpoint")

    # Another location's endpoint does not exist for this key, and the other way round.
    other = await new_tenant()
    async with client_of(server, other) as http:
        assert_error(await http.get(base), 404, "endpoint")
        assert_error(await http.delete(base), 404, "endpoint")
        assert_error(await http.get(f"{base}/deliveries"), 404, "endpoint")
        assert json_of(await http.get("/webhooks")) == {"endpoints": []}
    assert json_of(await client.get(base))["endpoint"]["id"] == endpoint["id"]


async def test_scopes_guard_the_webhooks_and_events_apis(
    server: LiveServer, new_tenant: TenantFactory, hook: Receiver
) -> None:
    reader = await new_tenant(scopes=("webhooks.readonly",))
    async with client_of(server, reader) as http:
        assert (await http.get("/webhooks")).status_code == 200
        assert_error(await http.post("/webhooks", json={"url": hook.url()}), 401, "scope")
        assert_error(await http.get("/events"), 401, "scope")
