"""POST /contacts/search: each filter operator, AND / OR groups, sort, page / pageLimit,
searchAfter cursors, `total`, and 422s naming the filter at fault."""

import asyncio
from typing import Any

import httpx
import pytest

from tests.contacts.helpers import Json, assert_error, create_contact, json_of

PEOPLE: list[Json] = [
    {
        "firstName": "alpha",
        "email": "alpha@acme.io",
        "companyName": "Acme",
        "tags": ["vip", "lead"],
        "phone": "+14155550101",
        "dnd": True,
    },
    {"firstName": "bravo", "email": "bravo@globex.io", "companyName": "Globex", "tags": ["lead"]},
    {"firstName": "charlie", "companyName": "Acme Labs"},
    {"firstName": "delta", "email": "delta@acme.io", "tags": ["vip"], "city": "Paris"},
    {"firstName": "echo", "phone": "+14155550105", "tags": ["cold"]},
]


@pytest.fixture
async def people(client: httpx.AsyncClient) -> dict[str, Json]:
    """Five contacts created a few milliseconds apart, so dateAdded orders them."""
    created: dict[str, Json] = {}
    for person in PEOPLE:
        created[person["firstName"]] = await create_contact(client, **person)
        await asyncio.sleep(0.003)
    stamps = [contact["dateAdded"] for contact in created.values()]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == len(stamps)
    return created


async def _search(client: httpx.AsyncClient, **body: Any) -> Json:
    response = await client.post("/contacts/search", json=body)
    assert response.status_code == 200, response.text
    return json_of(response)


async def _names(client: httpx.AsyncClient, *filters: Json, **body: Any) -> set[str]:
    result = await _search(client, filters=list(filters), pageLimit=100, **body)
    names = {contact["firstName"] for contact in result["contacts"]}
    assert result["total"] == len(names)
    return names


def _f(field: str, operator: str, value: Any = None) -> Json:
    return {"field": field, "operator": operator, "value": value}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (_f("email", "eq", "ALPHA@acme.io"), {"alpha"}),
        (_f("firstName", "eq", "Bravo"), {"bravo"}),
        (_f("companyName", "not_eq", "acme"), {"bravo", "charlie", "delta", "echo"}),
        (_f("email", "contains", "ACME"), {"alpha", "delta"}),
        (_f("email", "not_contains", "acme"), {"bravo", "charlie", "echo"}),
        (_f("email", "exists"), {"alpha", "bravo", "delta"}),
        (_f("email", "not_exists"), {"charlie", "echo"}),
        (_f("city", "exists"), {"delta"}),
        (_f("firstName", "in", ["alpha", "ECHO", "zulu"]), {"alpha", "echo"}),
        (_f("phone", "contains", "5550105"), {"echo"}),
        (_f("tags", "eq", "VIP"), {"alpha", "delta"}),
        (_f("tags", "not_eq", "vip"), {"bravo", "charlie", "echo"}),
        (_f("tags", "in", ["cold", "vip"]), {"alpha", "delta", "echo"}),
        (_f("tags", "contains", "co"), {"echo"}),
        (_f("tags", "exists"), {"alpha", "bravo", "delta", "echo"}),
        (_f("tags", "not_exists"), {"charlie"}),
        (_f("dnd", "eq", True), {"alpha"}),
        (_f("dnd", "not_eq", True), {"bravo", "charlie", "delta", "echo"}),
        (_f("lastActivity", "not_exists"), {"alpha", "bravo", "charlie", "delta", "echo"}),
    ],
)
async def test_filter_operators(
    client: httpx.AsyncClient, people: dict[str, Json], spec: Json, expected: set[str]
) -> None:
    assert await _names(client, spec) == expected


async def test_date_range_and_bounds(client: httpx.AsyncClient, people: dict[str, Json]) -> None:
    at = {name: contact["dateAdded"] for name, contact in people.items()}
    everyone = set(people)
    cases: list[tuple[Json, set[str]]] = [
        (
            _f("dateAdded", "range", {"gt": at["alpha"], "lt": at["echo"]}),
            {"bravo", "charlie", "delta"},
        ),
        (
            _f("dateAdded", "range", {"gte": at["bravo"], "lte": at["delta"]}),
            {"bravo", "charlie", "delta"},
        ),
        (_f("dateAdded", "gt", at["charlie"]), {"delta", "echo"}),
        (_f("dateAdded", "gte", at["charlie"]), {"charlie", "delta", "echo"}),
        (_f("dateAdded", "lt", at["bravo"]), {"alpha"}),
        (_f("dateAdded", "lte", at["bravo"]), {"alpha", "bravo"}),
        (_f("dateAdded", "eq", at["delta"]), {"delta"}),
        (_f("dateAdded", "gt", "2000-01-01T00:00:00Z"), everyone),
        (_f("dateAdded", "lt", "2000-01-01"), set()),
        (_f("dateAdded", "exists"), everyone),
    ]
    for spec, expected in cases:
        assert await _names(client, spec) == expected, spec
    # Epoch milliseconds work as bounds too.
    delta = await _search(client, filters=[_f("dateAdded", "eq", at["delta"])])
    epoch = delta["contacts"][0]["searchAfter"][0]
    assert isinstance(epoch, int)
    assert await _names(client, _f("dateAdded", "gte", epoch)) == {"delta", "echo"}


async def test_and_or_groups(client: httpx.AsyncClient, people: dict[str, Json]) -> None:
    # Top-level filters are ANDed.
    assert await _names(client, _f("email", "exists"), _f("tags", "eq", "vip")) == {
        "alpha",
        "delta",
    }
    either = {
        "group": "OR",
        "filters": [_f("firstName", "eq", "alpha"), _f("city", "eq", "paris")],
    }
    assert await _names(client, either) == {"alpha", "delta"}
    nested = {
        "group": "OR",
        "filters": [
            {
                "group": "AND",
                "filters": [_f("tags", "eq", "lead"), _f("email", "contains", "globex")],
            },
            _f("tags", "eq", "cold"),
        ],
    }
    assert await _names(client, nested) == {"bravo", "echo"}
    both = {"group": "AND", "filters": [_f("tags", "eq", "vip"), _f("tags", "eq", "lead")]}
    assert await _names(client, both) == {"alpha"}
    assert await _names(client, either, _f("tags", "eq", "lead")) == {"alpha"}
    # An empty group constrains nothing; query and filters combine.
    assert await _names(client, {"group": "OR", "filters": []}) == set(people)
    assert await _names(client, _f("tags", "eq", "vip"), query="paris") == set()
    assert await _names(client, _f("tags", "eq", "vip"), query="delta") == {"delta"}


async def test_sort_and_pages(client: httpx.AsyncClient, people: dict[str, Json]) -> None:
    ordered = ["alpha", "bravo", "charlie", "delta", "echo"]
    for direction, expected in (("asc", ordered), ("desc", ordered[::-1])):
        for field in ("firstName", "dateAdded", "email"):
            result = await _search(client, sort=[{"field": field, "direction": direction}])
            names = [contact["firstName"] for contact in result["contacts"]]
            if field == "email":
                # Contacts without email sort as the empty string: first ascending.
                with_email = [name for name in names if people[name].get("email")]
                assert with_email == [n for n in expected if people[n].get("email")]
            else:
                assert names == expected, (field, direction)
    # Default order is oldest first.
    default = await _search(client)
    assert [contact["firstName"] for contact in default["contacts"]] == ordered

    sort = [{"field": "firstName", "direction": "asc"}]
    pages = []
    for page in (1, 2, 3, 4):
        result = await _search(client, sort=sort, pageLimit=2, page=page)
        assert result["total"] == 5
        pages.append([contact["firstName"] for contact in result["contacts"]])
    assert pages == [["alpha", "bravo"], ["charlie", "delta"], ["echo"], []]

    filtered = await _search(client, filters=[_f("tags", "exists")], sort=sort, pageLimit=1, page=2)
    assert filtered["total"] == 4
    assert [contact["firstName"] for contact in filtered["contacts"]] == ["bravo"]


@pytest.mark.parametrize(
    ("field", "direction"),
    [("dateAdded", "desc"), ("dateAdded", "asc"), ("firstName", "asc"), ("email", "desc")],
)
async def test_search_after_walks_every_contact_once(
    client: httpx.AsyncClient, people: dict[str, Json], field: str, direction: str
) -> None:
    sort = [{"field": field, "direction": direction}]
    everything = await _search(client, sort=sort, pageLimit=100)
    expected = [contact["id"] for contact in everything["contacts"]]
    assert len(expected) == 5
    seen: list[str] = []
    cursor: list[Any] | None = None
    for _ in range(10):
        body: Json = {"sort": sort, "pageLimit": 2}
        if cursor is not None:
            body["searchAfter"] = cursor
        result = await _search(client, **body)
        assert result["total"] == 5
        if not result["contacts"]:
            break
        seen += [contact["id"] for contact in result["contacts"]]
        cursor = result["contacts"][-1]["searchAfter"]
        assert isinstance(cursor, list)
        assert cursor[1] == result["contacts"][-1]["id"]
    assert seen == expected


async def test_search_after_with_a_filter(
    client: httpx.AsyncClient, people: dict[str, Json]
) -> None:
    body: Json = {"filters": [_f("tags", "exists")], "pageLimit": 3}
    first = await _search(client, **body)
    assert [c["firstName"] for c in first["contacts"]] == ["alpha", "bravo", "delta"]
    rest = await _search(client, **body, searchAfter=first["contacts"][-1]["searchAfter"])
    assert [c["firstName"] for c in rest["contacts"]] == ["echo"]
    assert rest["total"] == 4


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ([_f("favouriteColour", "eq", "red")], "filters.0.field"),
        ([_f("email", "exists"), _f("shoeSize", "gt", 4)], "filters.1.field"),
        ([_f("firstName", "gt", "a")], "filters.0.field"),
        ([_f("dateAdded", "contains", "2020")], "filters.0.field"),
        ([_f("tags", "range", {"gt": 1})], "filters.0.field"),
        ([_f("dnd", "eq", "yes")], "filters.0.field"),
        ([_f("firstName", "in", [])], "filters.0.field"),
        ([_f("firstName", "eq", ["a", "b"])], "filters.0.field"),
        ([_f("dateAdded", "gt", "last tuesday")], "filters.0.field"),
        ([_f("dateAdded", "range", {"after": 1})], "filters.0.field"),
        (
            [{"group": "OR", "filters": [_f("email", "exists"), _f("nope", "eq", 1)]}],
            "filters.0.filters.1.field",
        ),
    ],
)
async def test_unknown_field_or_wrong_operator_is_422_naming_the_filter(
    client: httpx.AsyncClient, filters: list[Json], field: str
) -> None:
    response = await client.post("/contacts/search", json={"filters": filters})
    assert_error(response, 422, field)


async def test_bad_sort_and_operator_names_are_422(client: httpx.AsyncClient) -> None:
    bad_sort = await client.post("/contacts/search", json={"sort": [{"field": "phone"}]})
    assert_error(bad_sort, 422, "sort.0.field")
    bad_direction = await client.post(
        "/contacts/search", json={"sort": [{"field": "name", "direction": "up"}]}
    )
    assert_error(bad_direction, 422, "sort.0.direction")
    bad_operator = await client.post(
        "/contacts/search", json={"filters": [_f("email", "like", "a")]}
    )
    body = assert_error(bad_operator, 422)
    assert any(line.startswith("filters.0") and "operator" in line for line in body["message"])
    bad_cursor = await client.post("/contacts/search", json={"searchAfter": ["soon", "x"]})
    assert_error(bad_cursor, 422, "searchAfter.0")
