"""Every dashboard page links to the same data in the API docs: a Swagger UI deep link
(`/docs#/{tag}/{operationId}`) to an operation the OpenAPI document has, under that tag."""

import re
from urllib.parse import unquote

from contactflow.platform.db import Database
from tests.flows.helpers import MANUAL_TASK_FLOW as MANUAL
from tests.flows.helpers import Hub
from tests.support import LiveServer, Tenant
from tests.web.helpers import browser, make_person, signed_in

API_DOCS_LINK = re.compile(r'<p class="api-docs"><a href="/docs#/([^/"]+)/([^"]+)">')


async def test_every_page_links_to_its_operation_in_the_api_docs(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    flow = await web_hub.flow(MANUAL, name="Linked")
    run = (await web_hub.post(f"/flows/{flow['id']}/run", {"name": "Ada"}))["run"]
    ada = await web_hub.crm_contact(firstName="Ada")
    [event] = (await web_hub.get("/events", types="ContactCreate"))["events"]
    endpoint = (await web_hub.post("/webhooks", {"url": "http://127.0.0.1:9/docs"}))["endpoint"]
    hook = f"/webhooks/{endpoint['id']}"
    delivery = (await web_hub.post(f"{hook}/test", status=202))["delivery"]
    person = await make_person(web_db, web_tenant.location_id)
    ours = f"/app/l/{web_tenant.location_id}"
    expected = {
        f"{ours}/flows": ("get", "/flows"),
        f"{ours}/templates": ("get", "/flows/templates"),
        f"{ours}/runs": ("get", "/flows/{flowId}/runs"),
        f"{ours}/runs/{run['id']}": ("get", "/flows/runs/{runId}"),
        f"{ours}/connections": ("get", "/connections"),
        f"{ours}/webhooks": ("get", "/webhooks"),
        f"{ours}/webhooks/new": ("post", "/webhooks"),
        f"{ours}{hook}": ("get", "/webhooks/{endpointId}"),
        f"{ours}{hook}/edit": ("put", "/webhooks/{endpointId}"),
        f"{ours}{hook}/deliveries/{delivery['id']}": (
            "get",
            "/webhooks/{endpointId}/deliveries/{deliveryId}/attempts",
        ),
        f"{ours}/contacts": ("post", "/contacts/search"),
        f"{ours}/contacts/{ada['id']}": ("get", "/contacts/{contactId}"),
        f"{ours}/events": ("get", "/events"),
        f"{ours}/events/{event['id']}": ("get", "/events"),
        f"{ours}/syncs": ("get", "/sync/v1/syncs"),
        f"{ours}/syncs/new": ("post", "/sync/v1/syncs"),
    }
    async with browser(web_server.base_url) as http:
        await signed_in(http, person)
        document = (await http.get("/openapi.json")).json()
        operations = {
            (operation["operationId"], tag): (method, path)
            for path, item in document["paths"].items()
            for method, operation in item.items()
            for tag in operation.get("tags", [])
        }
        for page, operation in expected.items():
            html = (await http.get(page)).text
            found = API_DOCS_LINK.search(html)
            assert found is not None, page
            tag, operation_id = unquote(found.group(1)), unquote(found.group(2))
            assert operations.get((operation_id, tag)) == operation, page
        docs = (await http.get("/docs")).text
    # Swagger UI follows such links only with deep linking on.
    assert '"deepLinking": true' in docs
