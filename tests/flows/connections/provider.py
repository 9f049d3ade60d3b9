"""An OAuth provider on loopback whose tokens a test controls: its token endpoint gives a
new pair for any authorization code and renews them with the refresh token it gave last,
unless told to refuse (invalid_grant) or to be unavailable (503); its API answers the access
token it gave last, unless told to refuse every token."""

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from contactflow.settings import Settings
from tests.support import live_server

TOKEN_SECONDS = 3600


@dataclass
class Provider:
    base_url: str = ""
    refusing_refresh: bool = False
    refusing_tokens: bool = False
    unavailable: bool = False
    access_token: str = field(default="", repr=False)
    refresh_token: str = field(default="", repr=False)
    refreshes: int = 0

    def revoke(self) -> None:
        """The current access token is refused from now on: a call needs a renewed one."""
        self.access_token = ""

    async def _token(self, request: Request) -> JSONResponse:
        if self.unavailable:
            return JSONResponse({"error": "temporarily_unavailable"}, status_code=503)
        form = await request.form()
        if form.get("grant_type") == "refresh_token":
            if self.refusing_refresh or form.get("refresh_token") != self.refresh_token:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            self.refreshes += 1
        self.access_token = secrets.token_urlsafe(16)
        self.refresh_token = secrets.token_urlsafe(16)
        return JSONResponse(
            {
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "token_type": "Bearer",
                "expires_in": TOKEN_SECONDS,
            }
        )

    async def _api(self, request: Request) -> JSONResponse:
        given = request.headers.get("authorization")
        if self.refusing_tokens or not self.access_token or given != f"Bearer {self.access_token}":
            return JSONResponse({"message": "Invalid JWT"}, status_code=401)
        return JSONResponse({"contacts": []})


@contextmanager
def running_provider(settings: Settings) -> Iterator[Provider]:
    provider = Provider()
    app = Starlette(
        routes=[
            Route("/oauth/token", provider._token, methods=["POST"]),
            Route("/{path:path}", provider._api, methods=["GET", "POST"]),
        ]
    )
    with live_server(settings, app=app) as server:
        provider.base_url = server.base_url
        yield provider
