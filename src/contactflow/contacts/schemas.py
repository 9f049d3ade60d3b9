"""Wire models of the Contacts API: camelCase on the wire, snake_case in Python.

Request models forbid unknown properties (as upstream does) so a misspelt field is a 422
naming it rather than silently ignored data.
"""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, ConfigDict, Field, StringConstraints, field_validator

from contactflow.platform.wire import RequestModel, WireModel

Text255 = Annotated[str, StringConstraints(max_length=255)]
Text500 = Annotated[str, StringConstraints(max_length=500)]
LongText = Annotated[str, StringConstraints(max_length=50_000)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Tag = Annotated[str, StringConstraints(max_length=255)]
DndStatus = Literal["active", "inactive", "permanent"]
ContactType = Literal["lead", "customer"]
CHANNELS = ("Call", "Email", "SMS", "WhatsApp", "GMB", "FB")


class DndSetting(RequestModel):
    status: DndStatus
    message: Annotated[str, StringConstraints(max_length=500)] | None = None
    code: Annotated[str, StringConstraints(max_length=100)] | None = None


class DndSettings(RequestModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    call: DndSetting | None = Field(default=None, alias="Call")
    email: DndSetting | None = Field(default=None, alias="Email")
    sms: DndSetting | None = Field(default=None, alias="SMS")
    # The SDK's DndSettingsSchemaV3 spells the keys in camelCase: accept "whatsApp" too.
    whats_app: DndSetting | None = Field(
        default=None, alias="WhatsApp", validation_alias=AliasChoices("WhatsApp", "whatsApp")
    )
    gmb: DndSetting | None = Field(default=None, alias="GMB")
    fb: DndSetting | None = Field(default=None, alias="FB")


class InboundDndSettings(RequestModel):
    all: DndSetting | None = None


CustomFieldValue = str | int | float | bool | list[str] | dict[str, Any] | None


class CustomFieldInput(RequestModel):
    """One custom field value, addressed by `id` or `key`, value in either spelling."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: Id | None = None
    key: Id | None = None
    field_value: CustomFieldValue = Field(default=None, alias="field_value")
    field_value_camel: CustomFieldValue = Field(default=None, alias="fieldValue")
    value: CustomFieldValue = None

    @property
    def address(self) -> str | None:
        return self.id or self.key

    @property
    def resolved_value(self) -> CustomFieldValue:
        for candidate in (self.field_value, self.field_value_camel, self.value):
            if candidate is not None:
                return candidate
        return None


class DateParts(RequestModel):
    year: int = Field(ge=1900, le=2100)
    month: int = Field(ge=1, le=12)
    day: int = Field(ge=1, le=31)


class AttributionSourceInput(RequestModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    url: Annotated[str, StringConstraints(max_length=2048)] | None = None
    campaign: Text255 | None = None
    utm_source: Text255 | None = None
    utm_medium: Text255 | None = None
    medium: Text255 | None = None


class ContactFields(RequestModel):
    """Fields shared by create, update and upsert."""

    first_name: Text255 | None = None
    last_name: Text255 | None = None
    name: Text255 | None = None
    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    gender: Annotated[str, StringConstraints(max_length=32)] | None = None
    address1: Text500 | None = None
    city: Text255 | None = None
    state: Text255 | None = None
    postal_code: Annotated[str, StringConstraints(max_length=32)] | None = None
    website: Annotated[str, StringConstraints(max_length=2048)] | None = None
    timezone: Annotated[str, StringConstraints(max_length=64)] | None = None
    dnd: bool | None = None
    dnd_settings: DndSettings | None = None
    inbound_dnd_settings: InboundDndSettings | None = None
    tags: Annotated[list[Tag], Field(max_length=500)] | None = None
    custom_fields: Annotated[list[CustomFieldInput], Field(max_length=500)] | None = None
    source: Text255 | None = None
    date_of_birth: date | DateParts | None = None
    country: Annotated[str, StringConstraints(max_length=64)] | None = None
    company_name: Text255 | None = None
    assigned_to: Id | None = None
    type: ContactType | None = None
    attribution_source: AttributionSourceInput | None = None

    @field_validator("date_of_birth", mode="before")
    @classmethod
    def _date_text(cls, value: Any) -> Any:
        # Upstream accepts a full timestamp too; its date part is the birthday.
        if isinstance(value, str) and len(value) > 10 and value[10] in "T ":
            return value[:10]
        return value


class ContactCreate(ContactFields):
    location_id: Id | None = None
    business_id: Id | None = None


class ContactUpdate(ContactFields):
    business_id: Id | None = None


class ContactUpsert(ContactFields):
    location_id: Id | None = None
    business_id: Id | None = None
    create_new_if_duplicate_allowed: bool | None = None


class CustomFieldValueOut(WireModel):
    id: str
    value: CustomFieldValue


class ContactOut(WireModel):
    id: str
    location_id: str
    name: str | None
    first_name: str | None
    last_name: str | None
    email: str | None
    email_lower_case: str | None
    phone: str | None
    company_name: str | None
    timezone: str | None
    dnd: bool
    dnd_settings: dict[str, dict[str, Any]]
    type: str
    source: str | None
    assigned_to: str | None
    address1: str | None
    city: str | None
    state: str | None
    country: str | None
    postal_code: str | None
    website: str | None
    tags: list[str]
    date_of_birth: str | None
    date_added: str
    date_updated: str
    last_activity: str | None
    custom_fields: list[CustomFieldValueOut]
    business_id: str | None
    attribution_source: dict[str, Any] | None
    last_attribution_source: dict[str, Any] | None
    followers: list[str]


class ContactEnvelope(WireModel):
    contact: ContactOut


class ContactOrNone(WireModel):
    contact: ContactOut | None


class ContactUpdated(WireModel):
    succeded: bool = True
    succeeded: bool = True
    contact: ContactOut


class Succeeded(WireModel):
    succeded: bool = True
    succeeded: bool = True


class UpsertResult(WireModel):
    new: bool
    contact: ContactOut
    trace_id: str


class ListMeta(WireModel):
    total: int
    next_page_url: str | None
    start_after_id: str | None
    start_after: int | None
    current_page: int
    next_page: int | None
    prev_page: int | None


class ContactList(WireModel):
    contacts: list[ContactOut]
    meta: ListMeta


class BusinessContacts(WireModel):
    contacts: list[ContactOut]
    count: int


class TagsBody(RequestModel):
    tags: Annotated[list[Tag], Field(min_length=1, max_length=500)]


class TagsOut(WireModel):
    tags: list[str]


class FollowersBody(RequestModel):
    followers: Annotated[list[Id], Field(min_length=1, max_length=100)]


class FollowersAdded(WireModel):
    followers: list[str]
    followers_added: list[str]


class FollowersRemoved(WireModel):
    followers: list[str]
    followers_removed: list[str]


class WorkflowBody(RequestModel):
    event_start_time: datetime | None = None


class BulkTagsBody(RequestModel):
    contacts: Annotated[list[Id], Field(min_length=1, max_length=100)]
    tags: Annotated[list[Tag], Field(max_length=500)]
    location_id: Id | None = None
    remove_all_tags: bool | None = None


class BulkTagsResult(WireModel):
    succeded: bool
    succeeded: bool
    error_count: int
    responses: list[str]


class BulkBusinessBody(RequestModel):
    location_id: Id | None = None
    ids: Annotated[list[Id], Field(min_length=1, max_length=100)]
    business_id: Id | None


class BulkBusinessResult(WireModel):
    success: bool
    ids: list[str]


FilterOperator = Literal[
    "eq",
    "not_eq",
    "contains",
    "not_contains",
    "exists",
    "not_exists",
    "in",
    "range",
    "gt",
    "gte",
    "lt",
    "lte",
]
FilterValue = (
    str | int | float | bool | list[str | int | float] | dict[str, str | int | float] | None
)


class SearchFilter(RequestModel):
    field: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    operator: FilterOperator
    value: FilterValue = None


class FilterGroup(RequestModel):
    group: Literal["AND", "OR"]
    filters: Annotated[list["SearchFilter | FilterGroup"], Field(max_length=50)]


class SearchSort(RequestModel):
    field: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    direction: Literal["asc", "desc"] = "asc"


class SearchBody(RequestModel):
    location_id: Id | None = None
    page_limit: int = Field(default=20, ge=1, le=100)
    page: int = Field(default=1, ge=1, le=10_000)
    search_after: Annotated[list[str | int | float], Field(min_length=2, max_length=2)] | None = (
        None
    )
    query: Annotated[str, StringConstraints(max_length=255)] | None = None
    filters: Annotated[list[SearchFilter | FilterGroup], Field(max_length=50)] = []
    sort: Annotated[list[SearchSort], Field(max_length=1)] = []


class SearchedContact(ContactOut):
    search_after: list[str | int]


class SearchResult(WireModel):
    contacts: list[SearchedContact]
    total: int
