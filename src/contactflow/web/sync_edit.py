"""A sync's settings changed on a form, without JSON: its name, direction, delete policy,
reconciliation schedule, which contacts it covers (a contacts sync's segment: tags separated
by commas, numbers of days), and its mapping as rows (a field of the object, the Mailsuite field
kept equal to it, and who wins a conflict). Blank rows add a field and a checkbox removes
one, so the form needs no script.

Saving goes through the wire model and the service of `PATCH /sync/v1/syncs/{syncId}`
(sync/api.py `apply_update`); a refusal draws the form again as it was sent, with status
422, each reason beside the field it names, and nothing saved."""

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from contactflow.platform.errors import Unprocessable
from contactflow.platform.tenancy import Location
from contactflow.sync import api as sync_api
from contactflow.sync import service
from contactflow.sync.fields import DEFAULT_CONFLICT, MAILSUITE_CUSTOM, mapping_of
from contactflow.sync.models import Sync
from contactflow.sync.objects import kind_of
from contactflow.sync.schemas import SyncUpdate
from contactflow.sync.segments import Segment
from contactflow.web.guard import Viewer, ViewerDep, database
from contactflow.web.pages import api_docs, render
from contactflow.web.refusals import by_field, form_text, form_texts, refusal_lines
from contactflow.web.syncs import DIRECTIONS, conflict_words, field_words

router = APIRouter(prefix="/app/l/{location_id}/syncs", include_in_schema=False)
EDIT_DOCS = api_docs(sync_api.router, sync_api.update_sync)
# The segment's parts (a contacts sync's) as the API names them, and the form's fields.
SEGMENT_PARTS = {
    "tags": "segmentTags",
    "createdWithinDays": "segmentCreated",
    "updatedWithinDays": "segmentUpdated",
}
# Blank rows under the mapping, each a field to add; more after saving.
BLANK_ROWS = 2
# Rows read from a form: the API's most entries, with the blank rows.
MOST_ROWS = 50 + BLANK_ROWS
ROW_PARTS = ("crm", "mailsuite", "key", "conflict")
# The parts of a row an entry's refusal names (a custom field's key is in its Mailsuite field).
ENTRY_PARTS = ("crm", "mailsuite", "conflict")
SETTINGS = ("name", "direction", "onDelete", "reconcile", "every", *SEGMENT_PARTS.values())
DELETE_CHOICES = {
    "ignore": (
        "Ignore",
        "A record deleted on one side leaves its partner on the other side as it is.",
    ),
    "propagate": (
        "Propagate",
        "A record deleted on one side is deleted on the other side too.",
    ),
    "hold": (
        "Hold",
        "Its partner stays until a person approves or rejects the delete on the sync's page.",
    ),
}
# The API's names of the settings, as the form says them.
SETTING_WORDS = {
    "name": "Name",
    "direction": "Direction",
    "onDelete": "When a record is deleted",
    "reconcileEveryMinutes": "Reconciliation",
    "mapping": "Mapping",
    "segment": "Which contacts",
    "segmentTags": "Tags",
    "segmentCreated": "Added within the last days",
    "segmentUpdated": "Updated within the last days",
}


@dataclass(frozen=True)
class Row:
    """A mapping row as the form holds it: the Mailsuite field is one of its fields, or
    MAILSUITE_CUSTOM with the custom field's key beside it."""

    crm: str = ""
    mailsuite: str = ""
    key: str = ""
    conflict: str = DEFAULT_CONFLICT
    removed: bool = False

    @classmethod
    def of(cls, crm: str, mailsuite: str, conflict: str) -> "Row":
        if mailsuite.startswith(MAILSUITE_CUSTOM):
            return cls(crm, MAILSUITE_CUSTOM, mailsuite.removeprefix(MAILSUITE_CUSTOM), conflict)
        return cls(crm, mailsuite, "", conflict)

    @property
    def blank(self) -> bool:
        return not (self.crm or self.mailsuite or self.key)

    def entry(self) -> dict[str, str]:
        mailsuite = (
            self.mailsuite + self.key if self.mailsuite == MAILSUITE_CUSTOM else self.mailsuite
        )
        return {"crm": self.crm, "mailsuite": mailsuite, "conflict": self.conflict}


@dataclass
class EditForm:
    values: dict[str, str]
    rows: list[Row]
    errors: dict[str, str]
    message: str = ""


def _current(sync: Sync) -> EditForm:
    minutes = sync.reconcile_minutes or 0
    values = {
        "name": sync.name,
        "direction": sync.direction,
        "onDelete": sync.on_delete,
        "reconcile": "every" if minutes else "asked",
        "every": str(minutes or 60),
        **_segment_values(Segment.of(sync.segment)),
    }
    rows = [Row.of(e.crm, e.mailsuite, e.conflict) for e in mapping_of(sync.mapping)]
    return EditForm(values, [*rows, *[Row()] * BLANK_ROWS], {})


def _segment_values(segment: Segment) -> dict[str, str]:
    days = (segment.created_within_days, segment.updated_within_days)
    return {
        "segmentTags": ", ".join(segment.tags),
        "segmentCreated": "" if days[0] is None else str(days[0]),
        "segmentUpdated": "" if days[1] is None else str(days[1]),
    }


def _days(text: str) -> int | str | None:
    """A number of days as typed: blank for none; what is not a number is left for the
    API's model to refuse, naming the field."""
    return None if not text else int(text) if text.isdigit() else text


def _segment(values: dict[str, str]) -> dict[str, Any]:
    """The segment the form's fields ask for: tags separated by commas, blanks dropped."""
    tags = [tag.strip() for tag in values["segmentTags"].split(",") if tag.strip()]
    return {
        "tags": tags,
        "createdWithinDays": _days(values["segmentCreated"]),
        "updatedWithinDays": _days(values["segmentUpdated"]),
    }


def _row(form: FormData, index: int) -> Row:
    texts = {part: form_text(form, f"row-{index}-{part}").strip() for part in ROW_PARTS}
    return Row(**texts, removed=bool(form_text(form, f"row-{index}-remove")))


def _sent(form: FormData) -> EditForm:
    count = form_text(form, "rows")
    shown = min(int(count), MOST_ROWS) if count.isdigit() else 0
    return EditForm(form_texts(form, SETTINGS), [_row(form, i) for i in range(shown)], {})


def _request(sent: EditForm, sync: Sync) -> tuple[dict[str, Any], list[int]]:
    """What the form asks of the API's model, and which form row each mapping entry is."""
    kept = [index for index, row in enumerate(sent.rows) if not (row.removed or row.blank)]
    every = sent.values["every"] if sent.values["reconcile"] == "every" else 0
    body: dict[str, Any] = {
        "name": sent.values["name"],
        "direction": sent.values["direction"],
        "onDelete": sent.values["onDelete"],
        "reconcileEveryMinutes": every,
        "mapping": [sent.rows[index].entry() for index in kept],
    }
    if not kind_of(sync.object).of_contact:
        body["segment"] = _segment(sent.values)
    return body, kept


def _on_row(line: str, kept: list[int]) -> str:
    """`mapping.1.crm: ...` is said beside the form row that entry came from, and
    `segment.tags.0: ...` beside the segment's field."""
    place, _, reason = line.partition(": ")
    segment, _, part = place.partition(".")
    if segment == "segment" and part.split(".")[0] in SEGMENT_PARTS:
        return f"{SEGMENT_PARTS[part.split('.')[0]]}: {reason}"
    name, position, part = [*place.split("."), "", ""][:3]
    if name == "mapping" and position.isdigit() and int(position) < len(kept):
        return f"row-{kept[int(position)]}-{part if part in ENTRY_PARTS else 'crm'}: {reason}"
    return line


def _row_words(place: str, sync: Sync) -> str:
    catalog = kind_of(sync.object).catalog
    _, index, part = place.split("-")
    said = {
        "crm": f"{catalog.crm_noun} field",
        "mailsuite": f"{catalog.mailsuite_noun} field",
        "conflict": "who wins a conflict",
    }[part]
    return f"Row {int(index) + 1}, {said}"


def _refused(
    sent: EditForm, kept: list[int], sync: Sync, error: ValidationError | Unprocessable
) -> EditForm:
    lines = [_on_row(line, kept) for line in refusal_lines(error)]
    known = set(SETTING_WORDS) | {
        f"row-{index}-{part}" for index in range(len(sent.rows)) for part in ENTRY_PARTS
    }
    errors, message = by_field(lines, known)
    said = {
        place: f"{SETTING_WORDS.get(place) or _row_words(place, sync)}: {reason}"
        for place, reason in errors.items()
    }
    return EditForm(sent.values, sent.rows, said, message)


def _page(viewer: Viewer, location: Location, sync: Sync, form: EditForm) -> Response:
    kind = kind_of(sync.object)
    return render(
        "sync_edit.html",
        422 if form.errors or form.message else 200,
        viewer=viewer,
        location=location,
        api_docs=EDIT_DOCS,
        sync=sync,
        form=form,
        catalog=kind.catalog,
        custom=MAILSUITE_CUSTOM,
        directions={name: DIRECTIONS[name] for name in kind.directions},
        delete_choices=DELETE_CHOICES,
        conflicts=conflict_words(sync.object),
        words=field_words,
        entry_parts=ENTRY_PARTS,
    )


@router.get("/{sync_id}/edit")
async def edit_sync(
    request: Request, viewer: ViewerDep, location_id: str, sync_id: str
) -> Response:
    location = viewer.location(location_id)
    async with database(request).reader() as session:
        sync = await service.find_sync(session, location.id, sync_id)
    return _page(viewer, location, sync, _current(sync))


@router.post("/{sync_id}/edit")
async def save_sync(
    request: Request, viewer: ViewerDep, location_id: str, sync_id: str
) -> Response:
    location = viewer.location(location_id)
    sent = _sent(await request.form())
    async with database(request).reader() as session:
        sync = await service.find_sync(session, location.id, sync_id)
    body, kept = _request(sent, sync)
    try:
        wanted = SyncUpdate.model_validate(body)
        async with database(request).unit_of_work() as uow:
            await sync_api.apply_update(uow, location.id, sync_id, wanted)
    except (ValidationError, Unprocessable) as error:
        return _page(viewer, location, sync, _refused(sent, kept, sync, error))
    return RedirectResponse(f"/app/l/{location.id}/syncs/{sync_id}?done=changed", 303)
