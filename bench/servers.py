"""The servers bench.api measures, each meant to run in a process of its own.

    python -m bench.servers ours DATABASE_URL    # contactflow's app on that database
    python -m bench.servers bare BODIES_JSON     # Starlette, no database, no auth
    python -m bench.servers floor BODIES_JSON    # FastAPI, our routes' parameters, no work

Each one binds 127.0.0.1 on a free port, prints the port on a line of its own, then serves
with uvicorn (one worker, log level warning) until it receives SIGTERM or SIGINT.

The bare app answers the same routes with bytes captured from a real response of ours
(BODIES_JSON maps a route name to its status and body), so the difference between the two is
what our app does per request beyond HTTP parsing, routing and writing the same bytes.

The floor app answers them with the same bytes through FastAPI, each route declared with the
parameters of ours (the same path, query and body models, validated as ours are), its bearer
scheme parsing the token and its other dependencies doing nothing: what the framework costs
for these routes before any work of ours (authentication, rate limits, the database, the
middlewares).
"""

import inspect
import json
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin, get_type_hints

import uvicorn
from fastapi import Depends, FastAPI
from fastapi.params import Depends as DependsMarker
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from bench.load import LOOPBACK as HOST
from contactflow.app import create_app
from contactflow.contacts.api import router as contacts_router
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


_FLOOR_BEARER = HTTPBearer(auto_error=False)


async def _no_work(request: Request) -> None:
    """Stands for a dependency of ours that reads the app's state (the database, settings)."""


def _floor_dependency(call: Any) -> Any:
    return _FLOOR_BEARER if isinstance(call, HTTPBearer) else _no_work


def _floor_signature(endpoint: Callable[..., Any]) -> inspect.Signature:
    """`endpoint`'s parameters as FastAPI reads them, each dependency replaced by one that
    does no work of ours (the bearer scheme still parses the token)."""
    hints = get_type_hints(endpoint, include_extras=True)
    parameters = []
    for parameter in inspect.signature(endpoint).parameters.values():
        hint = hints.get(parameter.name, parameter.annotation)
        if get_origin(hint) is Annotated:
            base, *markers = get_args(hint)
            markers = [
                Depends(_floor_dependency(marker.dependency))
                if isinstance(marker, DependsMarker)
                else marker
                for marker in markers
            ]
            hint = Annotated[(base, *markers)]
        parameters.append(parameter.replace(annotation=hint))
    return inspect.Signature(parameters, return_annotation=Response)


def _our_route(method: str, path: str) -> APIRoute:
    for route in contacts_router.routes:
        if isinstance(route, APIRoute) and route.path == path and method in (route.methods or ()):
            return route
    raise LookupError(f"no route of ours for {method} {path}")


def floor_app(bodies: dict[str, Canned]) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    for name, (method, path) in BARE_ROUTES.items():
        ours = _our_route(method, path)
        canned = bodies[name]

        async def endpoint(canned: Canned = canned, **_: Any) -> Response:
            return Response(canned.body, status_code=canned.status, media_type="application/json")

        endpoint.__signature__ = _floor_signature(ours.endpoint)  # type: ignore[attr-defined]
        app.add_api_route(path, endpoint, methods=[method], status_code=ours.status_code)
    app.add_route("/health", _health, methods=["GET"])
    return app


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
    if len(argv) != 2 or argv[0] not in ("ours", "bare", "floor"):
        print("usage: python -m bench.servers (ours DATABASE_URL | (bare|floor) BODIES_JSON)")
        return 2
    kind, argument = argv
    if kind == "ours":
        serve(lambda port: ours_app(argument, port))
    else:
        bodies = load_bodies(Path(argument))
        make = bare_app if kind == "bare" else floor_app
        serve(lambda _port: make(bodies))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
