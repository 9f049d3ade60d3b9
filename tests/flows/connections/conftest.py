"""Fixtures of the connections tests: the flows server is the account that connects (the
`hub`); the "remote" account is another live server on the session's database, whose access
tokens live three seconds, so a test outlives them."""

from collections.abc import Iterator

import pytest

from contactflow.settings import Settings
from tests.support import LiveServer, live_server

ACCESS_TOKEN_SECONDS = 3


@pytest.fixture(scope="package")
def remote(settings: Settings) -> Iterator[LiveServer]:
    short = settings.model_copy(update={"oauth_access_token_seconds": ACCESS_TOKEN_SECONDS})
    with live_server(short) as running:
        yield running
