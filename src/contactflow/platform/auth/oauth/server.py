"""Authlib's AuthorizationServer, fitted to Starlette requests and our database.

Authlib's server is synchronous and calls back into storage (query_client, save_token, the
grants' look-ups) with no session argument. So a server is built per request around one
synchronous `Session`: the `run` helper hands Authlib the sync facade of our AsyncSession
through `AsyncSession.run_sync`, which runs the callbacks in a greenlet whose queries are
awaited on the event loop (ADR 0006). The request body is read before, since reading it
is asynchronous.
"""

import base64
import binascii
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from authlib.oauth2 import AuthorizationServer, OAuth2Request
from authlib.oauth2.rfc6749 import OAuth2Payload
from authlib.oauth2.rfc6749.errors import (
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from contactflow.platform.auth.ip import client_ip, over_tls
from contactflow.platform.auth.oauth import grants
from contactflow.platform.auth.oauth.models import OAuthClient
from contactflow.platform.auth.oauth.tokens import Grantee, Lifetimes, token_response, token_row
from contactflow.platform.auth.scopes import KNOWN_SCOPES
from contactflow.platform.db import UnitOfWork
from contactflow.platform.ids import new_id
from contactflow.settings import Settings

T = TypeVar("T")
Pairs = Sequence[tuple[str, str]]
# Values Authlib echoes into error descriptions, where it refuses quotes and backslashes
# with a ValueError (RFC 6749 5.2's character set) rather than an OAuth error.
_ECHOED = ("response_type", "redirect_uri")


class _Payload(OAuth2Payload):
    def __init__(self, pairs: Pairs) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for name, value in pairs:
            self._datalist[name].append(value)
        self._data = {name: values[0] for name, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class HttpRequest(OAuth2Request):
    """A request as Authlib reads it: query and form already parsed."""

    def __init__(self, method: str, uri: str, headers: Headers, query: Pairs, form: Pairs):
        super().__init__(method, uri, headers=headers)
        self._args = dict(query)
        self._form = _Payload(form).data
        self.payload = _Payload([*query, *form])

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


def _printable(pairs: Pairs) -> None:
    """OAuth parameters are ASCII; anything else (NUL included, which PostgreSQL cannot
    store) is refused up front rather than deep inside a grant."""
    for name, value in pairs:
        text = name + value
        if not text.isascii() or not text.isprintable():
            raise InvalidRequestError("Every parameter must be printable ASCII")
        if ('"' in text or "\\" in text) and name in _ECHOED:
            raise InvalidRequestError(f"Parameter {name} must not contain quotes or backslashes")


async def read_request(
    request: Request,
    *,
    form: bool,
    query: bool,
    trust_proxy: bool,
    aliases: Mapping[str, str] | None = None,
) -> HttpRequest:
    """Parse what Authlib will read. Raises OAuth2Error for a body that cannot be read, a
    non-ASCII parameter, or plain http off loopback (Authlib's transport check)."""
    body: list[tuple[str, str]] = []
    if form:
        try:
            parsed = await request.form()
        except HTTPException as error:
            if error.status_code != 400:  # 413 from the body cap stays a 413
                raise
            raise InvalidRequestError("The body is not a readable form") from error
        body = [(name, value) for name, value in parsed.multi_items() if isinstance(value, str)]
        if aliases:
            present = {name for name, _ in body}
            body = [
                (aliases[name], value)
                if name in aliases and aliases[name] not in present
                else (name, value)
                for name, value in body
            ]
    params = list(request.query_params.multi_items()) if query else []
    _printable([*params, *body])
    _check_basic(request.headers.get("authorization", ""))
    url = request.url
    if url.scheme == "http" and over_tls(request, trust_proxy=trust_proxy):
        url = url.replace(scheme="https")  # TLS ended at our proxy; Authlib checks the URI
    return HttpRequest(request.method, str(url), request.headers, params, body)


def _check_basic(header: str) -> None:
    """Authlib decodes HTTP Basic credentials assuming ASCII base64 of UTF-8 and would fail
    with a ValueError otherwise; such a header is a failed client authentication."""
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "basic":
        return
    try:
        base64.b64decode(credentials.strip()).decode()
    except binascii.Error:
        return  # Authlib itself treats undecodable base64 as no credentials
    except ValueError as error:  # non-ASCII base64, or not UTF-8 once decoded
        raise InvalidClientError(
            status_code=401, description="Unreadable Basic credentials"
        ) from error


@dataclass(frozen=True)
class Context:
    """What the callbacks need besides the session: token lifetimes, the caller's address
    (for audit entries), and the unit of work when the request may write."""

    lifetimes: Lifetimes
    ip: str | None
    uow: UnitOfWork | None = None

    @classmethod
    def of(cls, request: Request, settings: Settings, uow: UnitOfWork | None = None) -> "Context":
        ip = client_ip(request, trust_proxy=settings.trust_proxy)
        return cls(Lifetimes.of(settings), ip, uow)


class OAuthServer(AuthorizationServer):
    """One request's authorization server: Authlib's protocol over our tables."""

    def __init__(self, session: Session, context: Context) -> None:
        super().__init__(scopes_supported=sorted(KNOWN_SCOPES))
        self.session = session
        self.context = context
        self.register_token_generator("default", self._generate_token)
        grants.register(self)

    @property
    def uow(self) -> UnitOfWork:
        assert self.context.uow is not None, "a writing OAuth request needs a unit of work"
        return self.context.uow

    def query_client(self, client_id: str) -> OAuthClient | None:
        return self.session.get(OAuthClient, client_id)

    def _generate_token(
        self,
        grant_type: str,
        client: OAuthClient,
        user: Grantee | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        granted = client.get_allowed_scope(scope)
        if granted is None:
            raise InvalidScopeError()
        grantee = user or Grantee(user_id=None, company_id=client.company_id, location_id=None)
        return token_response(
            grantee, granted, self.context.lifetimes, with_refresh=include_refresh_token
        )

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        client: OAuthClient = request.client
        grantee = request.user or Grantee(None, client.company_id, None)
        if request.refresh_token is not None:
            family_id = request.refresh_token.family_id
        elif request.authorization_code is not None:
            family_id = request.authorization_code.id
        else:
            family_id = new_id()
        row = token_row(
            token,
            client_id=client.id,
            grantee=grantee,
            family_id=family_id,
            lifetimes=self.context.lifetimes,
        )
        self.session.add(row)

    def create_oauth2_request(self, request: HttpRequest) -> HttpRequest:
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
        if isinstance(body, dict):
            return JSONResponse(body, status_code=status, headers=dict(headers))
        return Response(body or None, status_code=status, headers=dict(headers))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """Authlib's hook for framework signals; nothing listens here."""


async def run(session: AsyncSession, context: Context, call: Callable[[OAuthServer], T]) -> T:
    """Run `call` with a server over the sync facade of `session` (see the module doc)."""

    def work(sync_session: Session) -> T:
        return call(OAuthServer(sync_session, context))

    return await session.run_sync(work)


def error_response(error: OAuth2Error) -> Response:
    """An OAuth error raised outside Authlib's own handlers, as RFC 6749 5.2 JSON."""
    status, body, headers = error()
    return JSONResponse(body, status_code=status, headers=dict(headers))
