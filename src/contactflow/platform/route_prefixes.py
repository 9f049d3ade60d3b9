"""Requests skip the routers whose prefix their path does not start with.

FastAPI keeps each included router as one node of the app's routes and, to find a request's
route, asks every route of every router before it in turn, each ask costing several
microseconds: with two hundred routes a request for one of the last (a flow's hook URL, an
email's tracking pixel, /health) spent about 3 ms finding its route, far more than it spent
on its own work. Every route of a router made with `APIRouter(prefix=...)` is under that
prefix, so a path outside it cannot match any of them and the router is passed over with one
string comparison. Routers without a literal prefix are asked as before.
"""

from fastapi import FastAPI
from fastapi.routing import _IncludedRouter
from starlette._utils import get_route_path
from starlette.routing import Match
from starlette.types import Scope


class _PrefixedRouter(_IncludedRouter):
    literal_prefix: str = ""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if not get_route_path(scope).startswith(self.literal_prefix):
            return Match.NONE, {}
        return super().matches(scope)


def skip_by_prefix(app: FastAPI) -> None:
    """Replace each included router of `app` that has a literal prefix by one that checks
    it first. Call once every router is included."""
    for index, route in enumerate(app.router.routes):
        if not isinstance(route, _IncludedRouter) or isinstance(route, _PrefixedRouter):
            continue
        path_prefix = route.include_context.prefix + route.original_router.prefix
        literal = path_prefix.split("{", 1)[0]
        if not literal:
            continue
        prefixed = _PrefixedRouter(
            original_router=route.original_router, include_context=route.include_context
        )
        prefixed.literal_prefix = literal
        app.router.routes[index] = prefixed
