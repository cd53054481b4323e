"""Download of filtered comments as CSV or JSON Lines, streamed in keyset batches (admin).

``GET /comments/export`` (and its older path ``GET /export``) takes the filters of ``GET /comments``;
``threekcal export`` writes the same lines from the command line."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from threekcal.api.deps import SettingsDep, open_session
from threekcal.api.errors import error_responses
from threekcal.api.policy import Action, Allowed
from threekcal.api.routes.comments import FilterDep
from threekcal.api.schemas import CommentOut
from threekcal.db import queries
from threekcal.db.models import Comment
from threekcal.db.queries import Sort
from threekcal.db.types import utcnow

router = APIRouter(tags=["export"])

EXCLUDED = {"etag"}  # a request-time detail of labelling, not data
COLUMNS = [name for name in CommentOut.model_fields if name not in EXCLUDED]
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


# OWASP CSV injection: a cell starting with one of these is a formula to spreadsheet programs.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(text: str) -> str:
    """A leading single quote makes the spreadsheet show the cell as text; the rest stays as written
    (a leading tab is kept, not trimmed, so ``\t=1+1`` cannot turn into a formula)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _csv_value(value: object) -> object:
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, str):
        return neutralise_cell(value)
    return value


def csv_lines(rows: Iterator[Comment]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180; a cell holding \r is quoted too
    writer.writerow(COLUMNS)
    for count, row in enumerate(rows, start=1):
        values = CommentOut.model_validate(row).model_dump(exclude=EXCLUDED).values()
        writer.writerow([_csv_value(value) for value in values])
        if count % 200 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def jsonl_lines(rows: Iterator[Comment]) -> Iterator[str]:
    for row in rows:
        yield CommentOut.model_validate(row).model_dump_json(exclude=EXCLUDED) + "\n"


EXPORT_DESCRIPTION = (
    "Takes the filters of `GET /comments`. Streamed in keyset batches of THREEKCAL_EXPORT_CHUNK_ROWS rows, "
    "so memory stays bounded at any size. CSV: text cells that start with `=`, `+`, `-`, `@`, a tab or a "
    "carriage return get a leading single quote (OWASP CSV injection), so spreadsheet programs show them "
    "as text instead of running them as formulas; strip that quote to get the text as stored. JSON Lines "
    "is exact."
)


@router.get(
    "/comments/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The matching comments, streamed",
            "content": {"text/csv": {"schema": {"type": "string"}}, "application/x-ndjson": {}},
        },
        **error_responses(401, 403, 503),
    },
    summary="Download comments as CSV or JSON Lines (admin)",
    description=EXPORT_DESCRIPTION,
)
@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The matching comments, streamed",
            "content": {"text/csv": {"schema": {"type": "string"}}, "application/x-ndjson": {}},
        },
        **error_responses(401, 403, 503),
    },
    summary="Download comments as CSV or JSON Lines (admin; the older path of /comments/export)",
    description=EXPORT_DESCRIPTION,
)
def export(
    _principal: Allowed(Action.EXPORT),
    settings: SettingsDep,
    flt: FilterDep,
    format: Annotated[Literal["csv", "jsonl"], Query()] = "csv",
    sort: Sort = "oldest",
) -> StreamingResponse:
    session = open_session(settings)
    try:
        rows = queries.iter_comments(session, flt, sort=sort, batch_size=settings.export_chunk_rows)
        # The first batch is read now, so a database that is down answers 503 instead of a cut stream.
        first = next(rows, None)
    except BaseException:
        session.close()
        raise

    def stream() -> Iterator[Comment]:
        try:
            if first is not None:
                yield first
                yield from rows
        finally:
            session.close()

    lines = csv_lines(stream()) if format == "csv" else jsonl_lines(stream())
    filename = f"threekcal-comments-{utcnow():%Y%m%dT%H%M%SZ}.{format}"
    return StreamingResponse(
        lines,
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
