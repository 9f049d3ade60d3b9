"""a trigram index on the contacts' search text, on PostgreSQL

Revision ID: 0026
Revises: 0028
Create Date: 2026-12-06 23:40:00.000000

The contacts' text query (`query` of the API, the dashboard's text box) is a substring of
`contacts.search_text` (`search_text LIKE '%text%'`), which no B-tree serves: a text that
few contacts hold read every contact of the location. PostgreSQL gets a `pg_trgm` GIN index
on the column, which the planner uses for that LIKE as it is (ADR 0023). SQLite has none:
its FTS5 trigram table would be read whole for a common text before the page is sorted.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0026"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_contacts_search_text_trgm ON contacts "
            "USING gin (search_text gin_trgm_ops)"
        )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_contacts_search_text_trgm")
