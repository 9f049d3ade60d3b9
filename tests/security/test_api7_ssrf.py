"""API7:2023 Server Side Request Forgery: webhooks are the one place the server calls a URL a
client chose. tests/webhooks/test_ssrf_and_input.py holds the guard's tests (loopback,
private, link-local and metadata addresses refused by the policy and by the API, on save and
on change, http only in development mode, a URL refused again at delivery time without a
request), and tests/webhooks/test_delivery.py shows redirects are not followed. Here: one
direct check of addresses written the ways a naive parser misses."""

import httpx
import pytest

from tests.contacts.helpers import assert_error, json_of

DISGUISED = [
    ("http://2130706434/", "non-public address (127.0.0.2)"),  # one decimal number
    ("http://0x7f000002/", "non-public address (127.0.0.2)"),  # the same in hex
    ("http://0251.0376.0251.0376/latest", "metadata address (169.254.169.254)"),  # octal
    ("http://[0:0:0:0:0:ffff:a9fe:a9fe]/", "non-public address"),  # IPv4-mapped metadata
    ("http://user:secret@203.0.113.10/hook", "must not carry credentials"),
    ("file:///etc/passwd", "must be an https URL"),
    ("gopher://127.0.0.1:6379/_INFO", "must be an https URL"),
]


@pytest.mark.parametrize(("url", "reason"), DISGUISED)
async def test_disguised_addresses_are_refused(
    client: httpx.AsyncClient, url: str, reason: str
) -> None:
    # The shared server runs in development mode and allowlists 127.0.0.1 alone.
    body = assert_error(await client.post("/webhooks", json={"url": url}), 422, "url")
    assert reason in body["message"][0], body
    assert json_of(await client.get("/webhooks")) == {"endpoints": []}
