"""A secret shown once (a webhook's signing secret, an API key, an OAuth app's client secret,
an invitation link): in the answer to the request that made it (ADR 0015). htmx sends the
form, and the answer puts the record's own page in the browser's history (HX-Push-Url), so a
reload reads that page, without the secret, rather than sending the form again.
"""

from dataclasses import dataclass
from datetime import datetime

from fastapi.responses import Response


@dataclass(frozen=True)
class NewSecret:
    value: str
    # When the secret it replaced stops working (None when it replaced none).
    previous_until: datetime | None = None


def shown_once(response: Response, page: str) -> Response:
    """The answer that shows a secret: the browser's history gets the record's page instead."""
    response.headers["HX-Push-Url"] = page
    return response
