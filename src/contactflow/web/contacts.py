"""A location's contacts, searched with the filters of POST /contacts/search through the same
search service: a filter builder (field, operator, value; rows added and removed by plain
links of the form), a text query and a sort, all in the page's address so a search can be
shared or reloaded; pages follow on by keyset (searchAfter), never counting the matches."""

from dataclasses import dataclass, field, replace
from itertools import zip_longest
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from contactflow.contacts import api as contacts_api
from contactflow.contacts import search
from contactflow.contacts.models import Contact
from contactflow.contacts.schemas import SearchBody, SearchFilter
from contactflow.platform.api_support import format_cursor
from contactflow.platform.clock import to_epoch_ms
from contactflow.platform.errors import DomainError
from contactflow.web.guard import ViewerDep, database
from contactflow.web.pages import api_docs, render
from contactflow.web.paging import cursor_position
from contactflow.web.refusals import by_field, refusal_lines

router = APIRouter(prefix="/app/l/{location_id}/contacts", include_in_schema=False)
CONTACTS_PER_PAGE = 50
MAX_ROWS = 20
MAX_QUERY = 255
SEARCH_DOCS = api_docs(contacts_api.router, contacts_api.search_contacts)
# What the builder offers, in the order people look for them.
OPERATORS = {
    "eq": "is",
    "not_eq": "is not",
    "contains": "contains",
    "not_contains": "does not contain",
    "in": "is one of (comma-separated)",
    "exists": "has a value",
    "not_exists": "has no value",
    "gt": "after / more than",
    "gte": "from / at least",
    "lt": "before / less than",
    "lte": "until / at most",
}
VALUELESS = frozenset({"exists", "not_exists"})
# Only the sorts an index serves: a page of 100,000 contacts sorted by name would sort them all.
SORTS = dict(zip(search.INDEXED_SORTS, ("Date added", "Date updated"), strict=True))
DIRECTIONS = {"desc": "newest first", "asc": "oldest first"}


@dataclass(frozen=True)
class FilterRow:
    field: str = ""
    operator: str = "eq"
    value: str = ""

    def spec(self) -> dict[str, Any]:
        """The row as the search body's filter: a list for `in`, a boolean for dnd."""
        value: Any = self.value
        if self.operator in VALUELESS:
            value = None
        elif self.operator == "in":
            value = [part.strip() for part in self.value.split(",") if part.strip()]
        elif self.field == "dnd":
            value = {"true": True, "false": False}.get(self.value.strip().lower(), self.value)
        return {"field": self.field, "operator": self.operator, "value": value}


@dataclass
class Checked:
    """What a search's form cannot use, by filter row (`row-N`) and by field; and where the
    search body's filters stand among the form's rows (blank rows are left out)."""

    errors: dict[str, str] = field(default_factory=dict)
    positions: list[int] = field(default_factory=list)

    def refused(self, error: DomainError) -> dict[str, str]:
        """The service's refusal (`filters.N.field: reason`) beside the row it names."""
        known = {f"filters.{n}.field" for n in range(len(self.positions))}
        errors, message = by_field(refusal_lines(error), known)
        rows = {
            f"row-{self.positions[int(place.split('.')[1])]}": text
            for place, text in errors.items()
        }
        return {**rows, **({"search": message} if message else {})}


@dataclass(frozen=True)
class ContactSearch:
    """The search as the page's address holds it."""

    rows: tuple[FilterRow, ...] = ()
    q: str = ""
    sort: str = "dateAdded"
    direction: str = "desc"

    @classmethod
    def of(cls, request: Request) -> "ContactSearch":
        params = request.query_params
        rows = tuple(
            FilterRow(field or "", operator or "eq", value or "")
            for field, operator, value in zip_longest(
                params.getlist("field")[:MAX_ROWS],
                params.getlist("op")[:MAX_ROWS],
                params.getlist("value")[:MAX_ROWS],
            )
        )
        return cls(
            rows=rows,
            q=params.get("q", "").strip(),
            sort=params.get("sort", "dateAdded"),
            direction=params.get("dir", "desc"),
        )

    def query(self, **extra: str) -> str:
        pairs: list[tuple[str, str]] = []
        for row in self.rows:  # every row's three, so that the lists stay aligned
            pairs += [("field", row.field), ("op", row.operator), ("value", row.value)]
        named = {"q": self.q, "sort": self.sort, "dir": self.direction, **extra}
        return urlencode(pairs + [(name, value) for name, value in named.items() if value])

    @property
    def filtered(self) -> bool:
        return bool(self.q) or any(row.field for row in self.rows)

    def body(self, after: list[str | int] | None) -> tuple[SearchBody | None, Checked]:
        """The search body, or None and the reasons it cannot be one."""
        checked = Checked()
        filters: list[SearchFilter] = []
        for index, row in enumerate(self.rows):
            if not row.field:
                continue
            if row.operator not in OPERATORS:
                checked.errors[f"row-{index}"] = "pick an operator of the list"
                continue
            try:
                filters.append(SearchFilter.model_validate(row.spec()))
            except ValidationError as error:
                checked.errors[f"row-{index}"] = "; ".join(refusal_lines(error))
                continue
            checked.positions.append(index)
        if len(self.q) > MAX_QUERY:
            checked.errors["q"] = f"at most {MAX_QUERY} characters"
        if self.sort not in SORTS:
            checked.errors["sort"] = "pick a sort of the list"
        if self.direction not in DIRECTIONS:
            checked.errors["dir"] = "pick an order of the list"
        if checked.errors:
            return None, checked
        body = SearchBody.model_validate(
            {
                "query": self.q or None,
                "filters": filters,
                "sort": [{"field": self.sort, "direction": self.direction}],
                "pageLimit": CONTACTS_PER_PAGE + 1,
                "searchAfter": after,
            }
        )
        return body, checked


def _after(raw: str | None) -> list[str | int] | None:
    position = cursor_position(raw)
    return None if position is None else [to_epoch_ms(position[0]), position[1]]


async def _page(
    session: AsyncSession, location_id: str, shown: ContactSearch, after: list[str | int] | None
) -> tuple[list[Contact], str, dict[str, str]]:
    """The page of contacts, where the next one starts ("" when none), and what was refused."""
    body, checked = shown.body(after)
    if body is None:
        return [], "", checked.errors
    try:
        found = await search.search_uncounted(session, location_id, body)
    except DomainError as error:
        return [], "", checked.refused(error)
    contacts = [contact for contact, _ in found]
    more = ""
    if len(contacts) > CONTACTS_PER_PAGE:
        contacts = contacts[:CONTACTS_PER_PAGE]
        last = contacts[-1]
        moment = last.date_added if shown.sort == "dateAdded" else last.date_updated
        more = format_cursor(moment, last.id)
    return contacts, more, {}


def _edited(request: Request, shown: ContactSearch) -> ContactSearch | None:
    """The search with a row added or removed, when the form's Add or Remove was pressed."""
    params = request.query_params
    if "add" in params:
        rows = shown.rows or (FilterRow(),)
        return replace(shown, rows=(*rows, FilterRow())[:MAX_ROWS])
    remove = params.get("remove", "")
    if remove.isdigit() and int(remove) < len(shown.rows):
        index = int(remove)
        return replace(shown, rows=shown.rows[:index] + shown.rows[index + 1 :])
    return None


@router.get("")
async def contacts_page(request: Request, viewer: ViewerDep, location_id: str) -> Response:
    location = viewer.location(location_id)
    shown = ContactSearch.of(request)
    edited = _edited(request, shown)
    here = f"/app/l/{location.id}/contacts"
    if edited is not None:
        return RedirectResponse(f"{here}?{edited.query()}", status_code=303)
    after = _after(request.query_params.get("after"))
    async with database(request).reader() as session:
        contacts, more, errors = await _page(session, location.id, shown, after)
    rows = shown.rows or (FilterRow(),)
    return render(
        "contacts.html",
        422 if errors else 200,
        viewer=viewer,
        location=location,
        api_docs=SEARCH_DOCS,
        shown=shown,
        rows=rows,
        fields=search.FIELDS,
        operators=OPERATORS,
        sorts=SORTS,
        directions=DIRECTIONS,
        errors=errors,
        contacts=contacts,
        more_url=f"{here}?{shown.query(after=more)}" if more else "",
    )
