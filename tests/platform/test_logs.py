"""JSON log lines: one object a line with time, level, logger, message, and the trace and
location ids when there are; an exception's type and frames, never its message."""

import contextvars
import json
import logging

from contactflow.platform.http import location_id_var, trace_id_var
from contactflow.platform.logs import JsonLines


def line_of(record: logging.LogRecord) -> dict[str, object]:
    line = JsonLines().format(record)
    assert "\n" not in line
    parsed: dict[str, object] = json.loads(line)
    return parsed


def record(message: str, *args: object, exc_info: object = None) -> logging.LogRecord:
    return logging.getLogger("contactflow.test").makeRecord(
        "contactflow.test",
        logging.ERROR,
        __file__,
        1,
        message,
        args,
        exc_info,  # type: ignore[arg-type]
    )


def test_a_line_names_the_request_s_trace_and_location() -> None:
    def in_a_request() -> dict[str, object]:
        trace_id_var.set("trace123")
        location_id_var.set("loc456")
        return line_of(record("delivery %s failed", "del789"))

    line = contextvars.copy_context().run(in_a_request)
    assert set(line) == {"time", "level", "logger", "message", "traceId", "locationId"}
    assert line["message"] == "delivery del789 failed"
    assert (line["level"], line["logger"]) == ("error", "contactflow.test")
    assert (line["traceId"], line["locationId"]) == ("trace123", "loc456")
    assert str(line["time"]).endswith("Z")


def test_outside_a_request_there_are_no_ids() -> None:
    line = contextvars.Context().run(line_of, record("worker started"))
    assert set(line) == {"time", "level", "logger", "message"}


def test_an_exception_gives_its_type_and_frames_but_not_its_message() -> None:
    def fail() -> None:
        raise ValueError("duplicate key: ada@example.com")

    try:
        fail()
    except ValueError as error:
        line = line_of(record("unhandled error", exc_info=(ValueError, error, None)))
    assert "ada@example.com" not in json.dumps(line)
    exception = line["exception"]
    assert isinstance(exception, dict)
    assert exception["type"] == "ValueError"
    assert any(frame.endswith("in fail") for frame in exception["frames"])
