"""Demo data: a company with two sandbox locations of realistic contacts and their records.

Everything is created through the contexts' services, so demo data obeys the same rules
(normalisation, duplicates, references) as data that arrives through the API.
"""

import asyncio
import random
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from contactflow.contacts import appointments, businesses, links, records, service
from contactflow.contacts.models import Business, Calendar
from contactflow.contacts.record_schemas import (
    AppointmentCreate,
    BusinessCreate,
    NoteCreate,
    TaskCreate,
)
from contactflow.contacts.schemas import ContactCreate
from contactflow.flows import service as flows
from contactflow.flows.definition import FlowDefinition
from contactflow.flows.models import Flow
from contactflow.flows.templates import find_template
from contactflow.mailsuite import campaigns, senders, templates
from contactflow.mailsuite.mail_schemas import CampaignCreate, SenderCreate, TemplateCreate
from contactflow.mailsuite.models import Campaign
from contactflow.mailsuite.smtp import host_policy
from contactflow.platform.auth.api_keys import create_key
from contactflow.platform.auth.passwords import hash_password
from contactflow.platform.auth.scopes import DEFAULT_KEY_SCOPES
from contactflow.platform.clock import utcnow
from contactflow.platform.db import Database, UnitOfWork
from contactflow.platform.tenancy import Company, Location, User

FIRST_NAMES = (
    "Olivia Liam Emma Noah Amelia Oliver Sophia Elijah Charlotte James Ava William Mia "
    "Benjamin Harper Lucas Evelyn Henry Luna Theodore Camila Jack Gianna Levi Abigail "
    "Alexander Ella Jackson Elizabeth Mateo Sofia Daniel Emily Michael Avery Mason Scarlett "
    "Sebastian Emilia Ethan Aria Logan Penelope Owen Chloe Samuel Layla Jacob Mila Asher"
).split()
LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
    "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
    "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott"
).split()
CITIES = (
    ("Austin", "TX", "78701"),
    ("Denver", "CO", "80202"),
    ("Portland", "OR", "97201"),
    ("Chicago", "IL", "60601"),
    ("Boston", "MA", "02108"),
    ("Seattle", "WA", "98101"),
)
COMPANIES = (
    "Acme Roofing",
    "Bright Smiles Dental",
    "Summit Realty",
    "Green Leaf Landscaping",
    "Peak Fitness",
    "Blue Harbor Marine",
)
TAGS = ("lead", "customer", "vip", "newsletter", "webinar", "referral", "cold", "follow-up")
SOURCES = ("website", "facebook ad", "referral", "trade show", "google ads", "import")
TASK_TITLES = ("Call back", "Send proposal", "Schedule demo", "Follow up on quote", "Check in")
NOTES = (
    "Asked about pricing for the annual plan.",
    "Prefers email over phone; best reached mornings.",
    "Met at the spring trade show, interested in a demo.",
    "Renewal coming up next quarter.",
)
CONTACTS_PER_LOCATION = 100
DEMO_COMPANY = "Northwind Agency"
DEMO_LOCATIONS = ("Northwind Austin", "Northwind Denver")
# Told, as the demo is made, how many of its contacts there are so far and how many in all.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class DemoLocation:
    id: str
    name: str
    api_key: str


@dataclass(frozen=True)
class DemoAdmin:
    """A user who can sign in at the OAuth authorization page (an admin of the company)."""

    email: str
    password: str
    company_id: str


@dataclass(frozen=True)
class DemoData:
    locations: list[DemoLocation]
    campaign_id: str
    workflow_id: str
    admin: DemoAdmin


async def _admin_password(uow: UnitOfWork, location: Location) -> DemoAdmin:
    """A fresh password for the first location's admin: like keys, only its hash is kept,
    so each showing of the demo sets a new one."""
    admin = await uow.session.scalar(
        select(User)
        .where(User.location_id == location.id, User.role == "admin")
        .order_by(User.created_at, User.id)
    )
    assert admin is not None, "demo locations are seeded with an admin"
    # Letters and digits only: easy to copy from a terminal and to type.
    password = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(16))
    admin.password_hash = await asyncio.to_thread(hash_password, password)
    return DemoAdmin(email=admin.email, password=password, company_id=location.company_id)


async def _seed_location(
    uow: UnitOfWork,
    company: Company,
    name: str,
    rng: random.Random,
    region: str,
    progress: Callable[[], None],
) -> Location:
    location = Location(company_id=company.id, name=name, sandbox=True, timezone="America/Chicago")
    uow.session.add(location)
    await uow.session.flush()
    users = [
        User(location_id=location.id, first_name=first, last_name=last, email=email, role=role)
        for first, last, email, role in (
            ("Dana", "Reyes", f"dana.reyes+{location.id[:6]}@example.com", "admin"),
            ("Sam", "Okafor", f"sam.okafor+{location.id[:6]}@example.com", "user"),
            ("Kim", "Larsen", f"kim.larsen+{location.id[:6]}@example.com", "user"),
        )
    ]
    calendar = Calendar(location_id=location.id, name="Sales calls")
    uow.session.add_all([*users, calendar])
    await uow.session.flush()
    owned = [
        await businesses.create_business(
            uow,
            location.id,
            BusinessCreate(name=company_name, city=city, state=state, country="US"),
            region,
        )
        for company_name, (city, state, _) in zip(COMPANIES, CITIES, strict=True)
    ]
    for number in range(CONTACTS_PER_LOCATION):
        await _seed_contact(uow, location, number, rng, users, owned, calendar, region)
        progress()
    return location


async def _seed_contact(
    uow: UnitOfWork,
    location: Location,
    number: int,
    rng: random.Random,
    users: list[User],
    owned: list[Business],
    calendar: Calendar,
    region: str,
) -> None:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    city, state, postal = rng.choice(CITIES)
    business = rng.choice(owned) if rng.random() < 0.4 else None
    contact = await service.create_contact(
        uow,
        location.id,
        ContactCreate(
            first_name=first,
            last_name=last,
            email=f"{first}.{last}.{number}@example.com".lower(),
            phone=f"+1512555{number:04d}",
            company_name=business.name if business else None,
            business_id=business.id if business else None,
            city=city,
            state=state,
            postal_code=postal,
            country="US",
            source=rng.choice(SOURCES),
            tags=rng.sample(TAGS, rng.randint(0, 3)),
            assigned_to=rng.choice(users).id,
            type="customer" if rng.random() < 0.3 else "lead",
        ),
        region,
    )
    now = utcnow()
    if rng.random() < 0.6:
        await records.create_task(
            uow,
            location.id,
            contact.id,
            TaskCreate(
                title=rng.choice(TASK_TITLES),
                due_date=now + timedelta(days=rng.randint(-3, 14)),
                completed=rng.random() < 0.3,
                assigned_to=rng.choice(users).id,
            ),
        )
    if rng.random() < 0.5:
        await records.create_note(
            uow, location.id, contact.id, NoteCreate(body=rng.choice(NOTES), user_id=users[0].id)
        )
    if rng.random() < 0.25:
        start = (now + timedelta(days=rng.randint(1, 20))).replace(minute=0, second=0)
        await appointments.create_appointment(
            uow,
            location.id,
            AppointmentCreate(
                calendar_id=calendar.id,
                contact_id=contact.id,
                title=f"Call with {first} {last}",
                start_time=start,
                assigned_user_id=rng.choice(users).id,
            ),
        )
    if rng.random() < 0.2:
        await links.add_followers(uow, location.id, contact.id, [rng.choice(users).id])


DEMO_CAMPAIGN = "Spring newsletter"


async def draft_campaign(uow: UnitOfWork, location_id: str, name: str = DEMO_CAMPAIGN) -> str:
    """The id of the location's draft Mailsuite campaign called `name`, made once."""
    existing = await uow.session.scalar(
        select(Campaign.id).where(Campaign.location_id == location_id, Campaign.name == name)
    )
    if existing is not None:
        return existing
    # A sandbox location's sender: its mail (the welcome emails of new contacts, and the
    # campaign once someone launches it) is kept in the sandbox outbox, no SMTP server needed.
    sender = await senders.create_sender(
        uow,
        location_id,
        SenderCreate.model_validate(
            {"name": "Northwind team", "fromEmail": "team@northwind.example.com"}
        ),
        host_policy([]),
    )
    template = await templates.create_template(
        uow,
        location_id,
        TemplateCreate.model_validate(
            {
                "name": name,
                "subject": "News from Northwind, {{first_name|there}}",
                "html": "<p>Hi {{ first_name | default('there') }}, here is our news.</p>",
            }
        ),
    )
    await uow.session.flush()
    campaign = await campaigns.create_campaign(
        uow,
        location_id,
        CampaignCreate.model_validate(
            {"name": name, "senderId": sender.id, "templateId": template.id}
        ),
    )
    return campaign.id


DEMO_FLOW = "Welcome call"


async def enrolment_flow(uow: UnitOfWork, location_id: str, name: str = DEMO_FLOW) -> str:
    """The id of the location's enabled flow called `name`, made once: a contact added to it
    (`POST /contacts/{id}/workflow/{flowId}`) gets a note saying so."""
    existing = await uow.session.scalar(
        select(Flow.id).where(Flow.location_id == location_id, Flow.name == name)
    )
    if existing is not None:
        return existing
    definition = FlowDefinition.model_validate(
        {
            "trigger": {"key": "contacts.contact.enrolled"},
            "steps": [
                {
                    "type": "action",
                    "id": "note",
                    "action": "contacts.note.create",
                    "input": {"contactId": "{{ trigger.contactId }}", "body": f"Added to {name}"},
                }
            ],
        }
    )
    flow = await flows.create_flow(uow, location_id, name, definition)
    await flows.publish(uow, location_id, flow.id)
    await flows.set_enabled(uow, location_id, flow.id, True)
    return flow.id


async def welcome_flow(uow: UnitOfWork, location_id: str) -> str:
    """The id of the location's `welcome` template flow, installed once, sending from the
    demo campaign's sender: a contact added from now on gets a welcome email and a
    follow-up task in Mailsuite."""
    template = find_template("welcome")
    assert template is not None, "the welcome template is shipped"
    names = [flow.name for flow in template.flows]
    existing = await uow.session.scalar(
        select(Flow.id).where(Flow.location_id == location_id, Flow.name.in_(names))
    )
    if existing is not None:
        return existing
    sender_id = await uow.session.scalar(
        select(Campaign.sender_id).where(
            Campaign.location_id == location_id, Campaign.name == DEMO_CAMPAIGN
        )
    )
    installed = await flows.install_template(uow, location_id, "welcome", {"senderId": sender_id})
    (flow,) = installed.flows
    return flow.id


async def create_demo(
    db: Database, *, region: str, seed: int | None = None, progress: Progress | None = None
) -> DemoData:
    """Create a fresh demo company; return one new API key per location and the admin's
    password."""
    rng = random.Random(seed)  # noqa: S311 - sample data, not secrets
    locations = []
    made = 0
    total = CONTACTS_PER_LOCATION * len(DEMO_LOCATIONS)

    def contact_made() -> None:
        nonlocal made
        made += 1
        if progress is not None:
            progress(made, total)

    async with db.unit_of_work() as uow:
        company = Company(name=DEMO_COMPANY)
        uow.session.add(company)
        await uow.session.flush()
        seeded = [
            await _seed_location(uow, company, name, rng, region, contact_made)
            for name in DEMO_LOCATIONS
        ]
        for location in seeded:
            _, key = await create_key(uow, location.id, list(DEFAULT_KEY_SCOPES), name="demo")
            locations.append(DemoLocation(id=location.id, name=location.name, api_key=key))
        admin = await _admin_password(uow, seeded[0])
        campaign_id = await draft_campaign(uow, seeded[0].id)
        workflow_id = await enrolment_flow(uow, seeded[0].id)
        await welcome_flow(uow, seeded[0].id)
    return DemoData(locations, campaign_id, workflow_id, admin)


async def demo_for_serve(
    db: Database, *, region: str, progress: Progress | None = None
) -> DemoData:
    """The demo to show when the server starts: the existing one with fresh keys, or a new one.

    Keys and passwords are stored only as hashes, so an existing demo gets new ones.
    """
    async with db.reader() as session:
        existing = list(
            await session.scalars(
                select(Location)
                .join(Company, Company.id == Location.company_id)
                .where(Company.name == DEMO_COMPANY, Location.sandbox.is_(True))
                .order_by(Location.created_at, Location.name)
                .limit(2)
            )
        )
    if not existing:
        return await create_demo(db, region=region, progress=progress)
    locations = []
    async with db.unit_of_work() as uow:
        for location in existing:
            _, key = await create_key(uow, location.id, list(DEFAULT_KEY_SCOPES), name="demo")
            locations.append(DemoLocation(id=location.id, name=location.name, api_key=key))
        admin = await _admin_password(uow, existing[0])
        campaign_id = await draft_campaign(uow, existing[0].id)
        workflow_id = await enrolment_flow(uow, existing[0].id)
        await welcome_flow(uow, existing[0].id)
    return DemoData(locations, campaign_id, workflow_id, admin)
