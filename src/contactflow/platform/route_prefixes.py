"""Requests skip the routers whose prefix their path does not start with.

FastAPI keeps each included router as one node of the app's routes and, to find a request's
route, asks every route of every router before it in turn, each ask costing several
microseconds: with two hundred routes a request for one of the last (a flow's hook URL, an
email's tracking pixel, /health) spent about 3 ms finding its route, far more than it spent
on its own work. Every route of a router made with `APIRouter(prefix=...)` is under that
prefix, so a path outside it cannot match any of them and the router is passed over with one
string comparison. Routers without a literal prefix are asked as before.

A router that matches is asked twice per request: once by the app's router to choose it, then
again by itself to run the route it chose (FastAPI's `matches`, then `_handle_selected`). It
keeps what the first ask found in the request's scope and answers the second from it, so its
routes are walked once.
"""

from typing import Any

from fastapi import FastAPI
from fastapi.routing import _IncludedRouter
from starlette._utils import get_route_path
from starlette.routing import Match
from starlette.types import Scope

# The scope key under which a router keeps its last match: (router, method, path, match).
_MATCHED = "contactflow.matched"


class _PrefixedRouter(_IncludedRouter):
    literal_prefix: str = ""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if not get_route_path(scope).startswith(self.literal_prefix):
            return Match.NONE, {}
        return super().matches(scope)

    def _match(self, scope: Scope) -> Any:
        # Keyed by method and path too: the app's router asks again with a copy of the scope
        # whose path has its trailing slash added or removed (redirect_slashes).
        key = (self, scope.get("method"), get_route_path(scope))
        kept = scope.get(_MATCHED)
        if kept is not None and kept[0] == key:
            return kept[1]
        found = super()._match(scope)
        scope[_MATCHED] = (key, found)
        return found


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
