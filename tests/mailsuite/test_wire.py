"""What an SMTP server receives, byte for byte: header fields as RFC 5322, 2047, 2369 and 8058
want them (read from the raw bytes, not through Python's parser), and addresses beyond ASCII:
SMTPUTF8 where the local part needs it and the server offers it, IDNA for a domain otherwise,
and a clear failure where the server cannot take the address."""

import re

import pytest

from contactflow.mailsuite.outgoing import Outgoing, wire_message
from tests.mailsuite.helpers import PUBLIC_BASE, Json, Mail
from tests.mailsuite.raw_headers import decoded, raw_headers
from tests.mailsuite.smtpd import Mailbox, Received, running_mailbox

# The email package's folding turns this one into an encoded-word of 76 characters.
SUBJECT = "José, votre commande n° 12345 est prête — retrait en magasin dès aujourd\u2019hui 🎉"
FROM_NAME = "Équipe Acme — Nouvelles"


def one_click(headers: dict[str, str]) -> str:
    """RFC 2369: List-Unsubscribe is a list of URIs in angle brackets; RFC 8058: one of them
    https, with List-Unsubscribe-Post saying one-click. The https URI."""
    uris = [item.strip() for item in headers["List-Unsubscribe"].split(",")]
    assert all(re.fullmatch(r"<(https|mailto):[^<>\s]+>", uri) for uri in uris), uris
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    [link] = [uri.strip("<>") for uri in uris if uri.startswith("<https:")]
    return link


async def _send(mail: Mail, smtp: Mailbox, to: str, sender: Json | None = None) -> Json:
    sender = sender or await mail.sender(smtp, fromName=FROM_NAME)
    contact = await mail.contact(to, firstName="José", lastName="Müller-Lüdenscheidt")
    return await mail.send(
        senderId=sender["id"], contactId=contact["id"], subject=SUBJECT, html="<p>Hola</p>"
    )


async def _received(mail: Mail, smtp: Mailbox, email: Json) -> Received:
    await mail.wait_sent(email["id"])
    [received] = smtp.received
    return received


async def test_every_header_field_is_well_formed_on_the_wire(mail: Mail, smtp: Mailbox) -> None:
    sender = await mail.sender(smtp, fromName=FROM_NAME, replyTo="help@acme.example.org")
    email = await _send(mail, smtp, "jose@example.com", sender)
    received = await _received(mail, smtp, email)
    headers = raw_headers(received.raw)

    link = one_click(headers)
    assert link.startswith(f"{PUBLIC_BASE}/mailsuite/v1/unsubscribe/")
    assert headers["Message-ID"] == email["messageId"]
    assert headers["X-Contactflow-Email-Id"] == email["id"]
    assert decoded(headers["Subject"]) == SUBJECT
    assert decoded(headers["From"]) == f"{FROM_NAME} <news@acme.example.org>"
    assert decoded(headers["To"]) == "José Müller-Lüdenscheidt <jose@example.com>"
    assert headers["Reply-To"] == "help@acme.example.org"


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:8000", "https://mail.example.org"])
def test_list_unsubscribe_is_never_encoded_whatever_the_base_url(base_url: str) -> None:
    url = f"{base_url}/mailsuite/v1/unsubscribe/{'x' * 120}"
    outgoing = Outgoing(
        message_id="<e1@acme.example.org>",
        from_email="news@acme.example.org",
        from_name="Acme",
        reply_to=None,
        to_email="ann@example.com",
        to_name="Ann",
        subject="Hi",
        html="<p>Hi</p>",
        text="Hi",
        unsubscribe_url=url,
        email_id="e1",
    )
    headers = raw_headers(wire_message(outgoing).data)
    assert headers["List-Unsubscribe"] == f"<{url}>"


async def test_a_non_ascii_local_part_goes_with_smtputf8_where_offered(mail: Mail) -> None:
    with running_mailbox(smtputf8=True) as smtp:
        email = await _send(mail, smtp, "josé@exämple.com")
        received = await _received(mail, smtp, email)
    assert received.rcpt_tos == ["josé@exämple.com"]
    assert "SMTPUTF8" in received.mail_options
    headers = raw_headers(received.raw, utf8=True, encoded_words=())
    assert headers["To"] == "José Müller-Lüdenscheidt <josé@exämple.com>"
    assert headers["From"] == f'"{FROM_NAME}" <news@acme.example.org>'
    assert headers["Subject"] == SUBJECT
    one_click(headers)


async def test_a_non_ascii_local_part_fails_clearly_where_smtputf8_is_not_offered(
    mail: Mail, smtp: Mailbox
) -> None:
    email = await _send(mail, smtp, "josé@exämple.com")
    failed = await mail.wait_email(email["id"], lambda row: row["status"] == "failed")
    assert failed["attempts"] == 1
    assert failed["error"] == (
        "not sent: josé@exämple.com has a non-ASCII local part, which needs SMTPUTF8, "
        "and 127.0.0.1 does not offer SMTPUTF8"
    )
    assert smtp.received == []


async def test_a_non_ascii_domain_goes_in_idna_to_any_server(mail: Mail, smtp: Mailbox) -> None:
    sender = await mail.sender(smtp, fromEmail="news@bücher.example.org", fromName="Bücher")
    email = await _send(mail, smtp, "ann@exämple.com", sender)
    assert email["messageId"] == f"<{email['id']}@xn--bcher-kva.example.org>"
    received = await _received(mail, smtp, email)
    assert received.mail_from == "news@xn--bcher-kva.example.org"
    assert received.rcpt_tos == ["ann@xn--exmple-cua.com"]
    assert not any(option.startswith("SMTPUTF8") for option in received.mail_options)
    headers = raw_headers(received.raw)
    assert headers["Message-ID"] == email["messageId"]
    assert decoded(headers["From"]) == "Bücher <news@xn--bcher-kva.example.org>"
    assert decoded(headers["To"]) == "José Müller-Lüdenscheidt <ann@xn--exmple-cua.com>"
    assert (await mail.email(email["id"]))["to"] == "ann@exämple.com"
