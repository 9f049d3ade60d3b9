"""`contactflow serve` whose Contacts API reads take a while: each prints a line when it
starts, then answers after SLOW_SECONDS. Run as `python -m tests.platform.slow_serve ARGS`
(the arguments of `serve`) by the shutdown tests, which need requests in flight."""

import asyncio
import sys
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from contactflow import app as application
from contactflow import cli
from contactflow.app import create_app

SLOW_SECONDS = 2.0
STARTED = "slow request started"


def slow_reads(app: ASGIApp) -> ASGIApp:
    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/contacts/"):
            print(STARTED, flush=True)
            await asyncio.sleep(SLOW_SECONDS)
        await app(scope, receive, send)

    return wrapped


def slow_app(*args: Any, **kwargs: Any) -> ASGIApp:
    return slow_reads(create_app(*args, **kwargs))


if __name__ == "__main__":
    application.create_app = slow_app  # type: ignore[assignment]
    cli.app(["serve", *sys.argv[1:]])
