"""The two servers bench.api measures, each meant to run in a process of its own.

    python -m bench.servers ours DATABASE_URL   # contactflow's app on that database
    python -m bench.servers bare BODIES_JSON    # Starlette, no database, no auth

Either one binds 127.0.0.1 on a free port, prints the port on a line of its own, then serves
with uvicorn (one worker, log level warning) until it receives SIGTERM or SIGINT.

The bare app answers the same routes with bytes captured from a real response of ours
(BODIES_JSON maps a route name to its status and body), so the difference between the two is
what our app does per request beyond HTTP parsing, routing and writing the same bytes.
"""

import json
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from bench.load import LOOPBACK as HOST
from contactflow.app import create_app
from contactflow.settings import Settings

# Route name -> (method, path) of the bare app; bench.api captures a body for each name.
BARE_ROUTES: dict[str, tuple[str, str]] = {
    "get": ("GET", "/contacts/{contactId}"),
    "create": ("POST", "/contacts/"),
    "list": ("GET", "/contacts/"),
    "search": ("POST", "/contacts/search"),
}


@dataclass(frozen=True)
class Canned:
    status: int
    body: bytes


def load_bodies(path: Path) -> dict[str, Canned]:
    raw: dict[str, dict[str, object]] = json.loads(path.read_text(encoding="utf-8"))
    return {
        name: Canned(status=int(str(entry["status"])), body=str(entry["body"]).encode("utf-8"))
        for name, entry in raw.items()
    }


def save_bodies(path: Path, bodies: dict[str, Canned]) -> None:
    data = {
        name: {"status": canned.status, "body": canned.body.decode("utf-8")}
        for name, canned in bodies.items()
    }
    path.write_text(json.dumps(data), encoding="utf-8")


def _canned_endpoint(canned: Canned) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        await request.body()  # receive the request like our app does, then ignore it
        return Response(canned.body, status_code=canned.status, media_type="application/json")

    return endpoint


async def _health(_request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


def bare_app(bodies: dict[str, Canned]) -> Starlette:
    routes = [
        Route(path, _canned_endpoint(bodies[name]), methods=[method])
        for name, (method, path) in BARE_ROUTES.items()
    ]
    return Starlette(routes=[*routes, Route("/health", _health, methods=["GET"])])


def ours_app(database_url: str, port: int) -> ASGIApp:
    # The rate limits stay on (counting is part of a request's cost) but out of the load's reach.
    settings = Settings(
        database_url=database_url,
        base_url=f"http://{HOST}:{port}",
        rate_limit_burst=10**9,
        rate_limit_daily=10**12,
    )
    return create_app(settings)


def serve(make_app: Callable[[int], ASGIApp]) -> None:
    """Bind a free loopback port, announce it on stdout, serve until told to stop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    port: int = sock.getsockname()[1]
    config = uvicorn.Config(
        make_app(port), host=HOST, port=port, workers=1, log_level="warning", lifespan="on"
    )
    print(port, flush=True)
    uvicorn.Server(config).run(sockets=[sock])


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("ours", "bare"):
        print("usage: python -m bench.servers (ours DATABASE_URL | bare BODIES_JSON)")
        return 2
    kind, argument = argv
    if kind == "ours":
        serve(lambda port: ours_app(argument, port))
    else:
        bodies = load_bodies(Path(argument))
        serve(lambda _port: bare_app(bodies))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
