"""Notify: email the team through the Mailsuite workspace's sending path (one email per
address, from one of its senders), for alerts a flow raises."""

from html import escape

from contactflow.flows.catalog.mailsuite_email import EMAIL_SAMPLE, send_email
from contactflow.flows.catalog.registry import ID, ActionContext, Entry, Json, output_schema
from contactflow.mailsuite.mail_schemas import EmailOut
from contactflow.platform.auth.scopes import MAILSUITE_WRITE

APP = "core"
MAX_RECIPIENTS = 20


def _html(text: str) -> str:
    paragraphs = (escape(part).replace("\n", "<br>") for part in text.split("\n\n"))
    return "".join(f"<p>{paragraph}</p>" for paragraph in paragraphs)


async def notify(context: ActionContext, values: Json) -> Json:
    """The same message to each address; no open or click tracking (it is not marketing)."""
    content = {
        "senderId": values["senderId"],
        "subject": values["subject"],
        "text": values["text"],
        "html": values.get("html") or _html(values["text"]),
        "trackOpens": False,
        "trackClicks": False,
    }
    sent = [await send_email(context, {**content, "to": address}) for address in values["to"]]
    return {"emails": sent, "count": len(sent)}


ENTRIES = (
    Entry(
        key="core.notify",
        app=APP,
        kind="action",
        title="Notify the team",
        description=(
            "Email a message to the team's addresses (`to`), sent by a Mailsuite sender "
            "without tracking; `html` is made from `text` when not given."
        ),
        scopes=(MAILSUITE_WRITE,),
        input={
            "type": "object",
            "additionalProperties": False,
            "required": ["senderId", "to", "subject", "text"],
            "properties": {
                "senderId": ID,
                "to": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_RECIPIENTS,
                    "items": {"type": "string", "maxLength": 320},
                },
                "subject": {"type": "string", "minLength": 1, "maxLength": 1000},
                "text": {"type": "string", "minLength": 1, "maxLength": 100_000},
                "html": {"type": "string", "maxLength": 100_000},
            },
        },
        output={
            "type": "object",
            "properties": {
                "emails": {"type": "array", "items": output_schema(EmailOut)},
                "count": {"type": "integer"},
            },
        },
        sample={"emails": [{**EMAIL_SAMPLE, "to": "team@example.com"}], "count": 1},
        run=notify,
    ),
)
