"""Log lines as one JSON object each (`log_format = json`), for a log pipeline.

A line holds the time, level, logger and message, and the request's trace id (or, with
tracing on, the trace of the unit of work a worker's line is about) and its caller's location
id when there is one (the ids the error envelope and the API give out). An
exception adds its type and where it was raised, frame by frame, but not its message: a
driver's message may quote the row it refused, and log lines carry no personal field
beyond ids. Messages themselves are written to name ids, never a contact's fields.
"""

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

from contactflow.platform import tracing
from contactflow.platform.clock import to_iso
from contactflow.platform.http import location_id_var, trace_id_var


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": to_iso(datetime.fromtimestamp(record.created, UTC)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        # A worker's line has no request: the trace of the unit of work it is about.
        trace_id = trace_id_var.get() or tracing.trace_id()
        if trace_id:
            line["traceId"] = trace_id
        location_id = location_id_var.get()
        if location_id:
            line["locationId"] = location_id
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            line["exception"] = {
                "type": type(error).__qualname__,
                "frames": [
                    f"{frame.filename}:{frame.lineno} in {frame.name}"
                    for frame in traceback.extract_tb(error.__traceback__)
                ],
            }
        return json.dumps(line, ensure_ascii=False)


def use_json_lines(level: int = logging.INFO) -> None:
    """Every logger of the process (uvicorn's too, which propagate to the root when it is not
    given a log config) writes JSON lines to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
