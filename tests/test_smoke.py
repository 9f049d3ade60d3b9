import httpx

from tests.support import Tenant


async def test_create_and_read_back(client: httpx.AsyncClient, tenant: Tenant) -> None:
    created = await client.post("/contacts/", json={"firstName": "Ann", "email": "ann@x.io"})
    assert created.status_code == 201, created.text
    contact_id = created.json()["contact"]["id"]
    fetched = await client.get(f"/contacts/{contact_id}")
    assert fetched.json()["contact"]["email"] == "ann@x.io"
    assert fetched.json()["contact"]["locationId"] == tenant.location_id
