"""PostgreSQL's trigram index on the contacts' search text (migration 0026) serves the text
query as the search builds it: the plan names the index, and the index finds what the LIKE
finds."""

from sqlalchemy import text

from contactflow.contacts import search
from contactflow.contacts.models import Contact
from contactflow.contacts.schemas import SearchBody
from contactflow.platform.db import Database
from tests.support import make_tenant

INDEX = "ix_contacts_search_text_trgm"
# Enough for the planner to prefer the index to reading the location's contacts.
CONTACTS = 20_000


async def test_the_text_query_goes_through_the_trigram_index(
    db: Database, postgres_only: None
) -> None:
    tenant = await make_tenant(db)
    async with db.unit_of_work() as uow:
        await uow.session.execute(
            text(
                "INSERT INTO contacts (id, location_id, dnd, dnd_settings, type, custom_fields,"
                " search_text, date_added, date_updated)"
                " SELECT md5(random()::text || n), :location, false, '{}', 'lead', '[]',"
                " 'p' || n || '@people.example', now(), now()"
                " FROM generate_series(1, :count) AS n"
            ),
            {"location": tenant.location_id, "count": CONTACTS},
        )
    body = SearchBody.model_validate({"query": "P137@people", "pageLimit": 10})
    page = search._statements(tenant.location_id, body, Contact.search_text).page
    sql = str(page.compile(db.engine, compile_kwargs={"literal_binds": True}))
    async with db.engine.connect() as connection:
        # With statistics the planner knows the location's rows are many.
        await connection.exec_driver_sql("ANALYZE contacts")
        # Every other way in made dear, so the plan shows whether the index can serve it.
        for setting in ("enable_seqscan", "enable_indexscan"):
            await connection.exec_driver_sql(f"SET LOCAL {setting} = off")
        plan = "\n".join(row[0] for row in await connection.exec_driver_sql(f"EXPLAIN {sql}"))
        found = (await connection.exec_driver_sql(sql)).scalars().all()
    assert INDEX in plan, plan
    assert found == ["p137@people.example"]
