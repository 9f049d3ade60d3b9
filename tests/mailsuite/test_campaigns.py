"""Campaigns: a template merged for each contact of a list and chosen contacts, recipients
who may not be mailed recorded as skipped with the reason, a campaign throttle, cancelling;
and membership recorded through the Contacts API acted on by Mailsuite's consumer."""

import asyncio
from datetime import UTC, datetime, timedelta

from tests.mailsuite.helpers import Json, Mail, error_lines, parts, poll
from tests.mailsuite.smtpd import Mailbox

TEMPLATE = {
    "name": "Spring",
    "subject": "Spring sale for {{first_name|you}}",
    "html": '<p>Dear {{ first_name | default("customer") }}, 10% off.</p>',
}
CONTACTS_API_HEADERS = {"Version": "2021-07-28"}


async def _campaign(mail: Mail, smtp: Mailbox, html: str | None = None, **fields: object) -> Json:
    sender = await mail.sender(smtp)
    template = await mail.template(**{**TEMPLATE, "html": html or TEMPLATE["html"]})
    body = {"name": "Spring", "senderId": sender["id"], "templateId": template["id"], **fields}
    campaign: Json = (await mail.post("/campaigns", body))["campaign"]
    return campaign


async def test_a_campaign_merges_each_recipient_and_records_skips(
    mail: Mail, smtp: Mailbox
) -> None:
    ann = await mail.contact("ann@example.com", firstName="Ann", customFields={"discount": 25})
    bob = await mail.contact("bob@example.com")
    out = await mail.contact("out@example.com", subscriptionStatus="unsubscribed")
    cy = await mail.contact("cy@example.com", firstName="Cy")
    group = (await mail.post("/lists", {"name": "Customers"}))["list"]
    added = await mail.post(
        f"/lists/{group['id']}/members",
        {"contactIds": [ann["id"], bob["id"], out["id"], ann["id"]]},
        status=200,
    )
    assert added == {"added": [ann["id"], bob["id"], out["id"]], "alreadyMembers": []}
    # `discount` is a custom field of one contact: the others get the fallback.
    html = '<p>Dear {{ first_name | default("customer") }}, {{ discount|10 }}% off.</p>'
    campaign = await _campaign(mail, smtp, html, listId=group["id"], contactIds=[cy["id"]])
    assert campaign["status"] == "draft"

    launched = (await mail.post(f"/campaigns/{campaign['id']}/send", status=200))["campaign"]
    assert launched["status"] == "launched"
    assert launched["counts"]["recipients"] == 4
    assert launched["counts"]["skipped"] == 1

    async def delivered() -> int:
        return len(smtp.received)

    await poll(delivered, lambda count: count == 3)
    subjects = {item.rcpt_tos[0]: item.message["Subject"] for item in smtp.received}
    assert subjects == {
        "ann@example.com": "Spring sale for Ann",
        "bob@example.com": "Spring sale for you",
        "cy@example.com": "Spring sale for Cy",
    }
    _, html = parts(smtp.to("ann@example.com")[0].message)
    assert "Dear Ann, 25% off." in html
    _, html = parts(smtp.to("bob@example.com")[0].message)
    assert "Dear customer, 10% off." in html

    recipients = (await mail.get(f"/campaigns/{campaign['id']}/recipients"))["recipients"]
    by_contact = {row["contactId"]: row for row in recipients}
    assert by_contact[out["id"]]["status"] == "skipped"
    assert by_contact[out["id"]]["reason"].startswith("the contact is unsubscribed")
    assert {by_contact[c["id"]]["source"] for c in (ann, bob)} == {"list"}
    assert by_contact[cy["id"]]["source"] == "api"
    final = await poll(
        lambda: mail.get(f"/campaigns/{campaign['id']}"),
        lambda body: body["campaign"]["counts"]["sent"] == 3,
    )
    assert final["campaign"]["counts"]["scheduled"] == 0
    again = await mail.http.post(f"/mailsuite/v1/campaigns/{campaign['id']}/send", json={})
    assert "only a draft can be sent" in error_lines(again, 409)[0]


async def test_a_campaign_throttle_and_cancel(mail: Mail, smtp: Mailbox) -> None:
    contacts = [await mail.contact(f"c{number}@example.com") for number in range(4)]
    campaign = await _campaign(
        mail, smtp, contactIds=[contact["id"] for contact in contacts], maxPerMinute=2
    )
    await mail.post(f"/campaigns/{campaign['id']}/send", status=200)

    async def delivered() -> int:
        return len(smtp.received)

    await poll(delivered, lambda count: count == 2)
    # Both deliveries recorded before the cancel, so it cannot race the second one's record.
    await poll(
        lambda: mail.get(f"/campaigns/{campaign['id']}"),
        lambda body: body["campaign"]["counts"]["sent"] == 2,
    )
    assert len(smtp.received) == 2
    cancelled = (await mail.post(f"/campaigns/{campaign['id']}/cancel", status=200))["campaign"]
    assert cancelled["status"] == "cancelled"
    assert cancelled["counts"]["sent"] == 2
    emails = (await mail.get("/emails", campaignId=campaign["id"]))["emails"]
    assert sorted(row["status"] for row in emails) == ["cancelled", "cancelled", "sent", "sent"]


async def test_a_scheduled_campaign_waits_for_its_time(mail: Mail, smtp: Mailbox) -> None:
    contact = await mail.contact("patient@example.com")
    campaign = await _campaign(mail, smtp, contactIds=[contact["id"]])
    at = datetime.now(UTC) + timedelta(seconds=0.8)
    launched = await mail.post(
        f"/campaigns/{campaign['id']}/send", {"scheduledAt": at.isoformat()}, status=200
    )
    assert launched["campaign"]["counts"]["scheduled"] == 1
    assert smtp.received == []
    [email] = (await mail.get("/emails", campaignId=campaign["id"]))["emails"]
    sent = await mail.wait_sent(email["id"])
    assert datetime.fromisoformat(sent["sentAt"]) >= at.replace(microsecond=0)


async def test_contacts_api_membership_enrols_the_contact(mail: Mail, smtp: Mailbox) -> None:
    campaign = await _campaign(mail, smtp)
    await mail.post(f"/campaigns/{campaign['id']}/send", status=200)
    created = await mail.http.post(
        "/contacts/",
        json={"firstName": "Dora", "email": "dora@example.com"},
        headers=CONTACTS_API_HEADERS,
    )
    assert created.status_code == 201, created.text
    crm_id = created.json()["contact"]["id"]
    no_email = await mail.http.post(
        "/contacts/",
        json={"firstName": "Ed", "phone": "+14155550100"},
        headers=CONTACTS_API_HEADERS,
    )
    assert no_email.status_code == 201, no_email.text
    for contact_id in (crm_id, no_email.json()["contact"]["id"]):
        joined = await mail.http.post(
            f"/contacts/{contact_id}/campaigns/{campaign['id']}", headers=CONTACTS_API_HEADERS
        )
        assert joined.status_code in (200, 201), joined.text

    async def dora() -> int:
        return len(smtp.to("dora@example.com"))

    await poll(dora, lambda count: count == 1)
    assert smtp.to("dora@example.com")[0].message["Subject"] == "Spring sale for Dora"
    recipients = await poll(
        lambda: mail.get(f"/campaigns/{campaign['id']}/recipients"),
        lambda body: len(body["recipients"]) == 2,
    )
    by_crm = {row["crmContactId"]: row for row in recipients["recipients"]}
    assert by_crm[crm_id]["status"] == "queued"
    assert by_crm[crm_id]["source"] == "contacts-api"
    skipped = by_crm[no_email.json()["contact"]["id"]]
    assert (skipped["status"], skipped["reason"]) == ("skipped", "the contact has no email address")
    [upserted] = await mail.events("MailsuiteContactUpsert")
    assert upserted["payload"]["contact"]["crmContactId"] == crm_id
    assert upserted["payload"]["contact"]["source"] == "contacts-api"

    # A campaign is a Mailsuite campaign: another id is not found.
    other = await mail.http.post(
        f"/contacts/{crm_id}/campaigns/not-a-mailsuite-campaign", headers=CONTACTS_API_HEADERS
    )
    assert (other.status_code, other.json()["message"]) == (404, "Campaign not found")
    left = await mail.http.delete(
        f"/contacts/{crm_id}/campaigns/{campaign['id']}", headers=CONTACTS_API_HEADERS
    )
    assert left.status_code == 200, left.text
    await asyncio.sleep(0.3)
    assert len(smtp.to("dora@example.com")) == 1


async def test_recipients_added_later_and_taken_out_before_the_launch(
    mail: Mail, smtp: Mailbox
) -> None:
    first = await mail.contact("first@example.com")
    campaign = await _campaign(mail, smtp)
    created = await mail.http.post(
        "/contacts/", json={"email": "withdrawn@example.com"}, headers=CONTACTS_API_HEADERS
    )
    crm_id = created.json()["contact"]["id"]
    path = f"/contacts/{crm_id}/campaigns/{campaign['id']}"
    assert (await mail.http.post(path, headers=CONTACTS_API_HEADERS)).status_code in (200, 201)
    assert (await mail.http.delete(path, headers=CONTACTS_API_HEADERS)).status_code == 200
    recipients = await poll(
        lambda: mail.get(f"/campaigns/{campaign['id']}/recipients"),
        lambda body: [row["status"] for row in body["recipients"]] == ["removed"],
    )
    assert recipients["recipients"][0]["crmContactId"] == crm_id

    await mail.post(f"/campaigns/{campaign['id']}/send", status=200)
    added = await mail.post(
        f"/campaigns/{campaign['id']}/recipients", {"contactIds": [first["id"]]}, status=200
    )
    assert [row["status"] for row in added["recipients"]] == ["queued"]

    async def delivered() -> list[str]:
        return [address for item in smtp.received for address in item.rcpt_tos]

    await poll(delivered, lambda addresses: addresses == ["first@example.com"])
    assert smtp.to("withdrawn@example.com") == []
