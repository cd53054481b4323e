"""Comments: submit, look up by receipt, browse and filter (admin), label one (admin), its history."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response

from threekcal.api import ratelimit
from threekcal.api.deps import AdminDep, SessionDep, SettingsDep, open_session
from threekcal.api.errors import error_responses, validation_error
from threekcal.api.schemas import (
    MAX_NUM,
    CommentCreated,
    CommentIn,
    CommentOut,
    CommentPage,
    LabelEventOut,
    LabelIn,
)
from threekcal.db import labels, queries
from threekcal.db.models import MAX_USER_CHARS
from threekcal.db.queries import CommentFilter, InvalidCursorError, Sort
from threekcal.emotions import Emotion

router = APIRouter(tags=["comments"])

NumPath = Annotated[int, Path(ge=1, le=MAX_NUM, description="Comment number.")]
MAX_PAGE = 500
MAX_QUERY_CHARS = 200
INVALID_CURSOR = "Invalid cursor"


def _aware(value: datetime | None, field: str) -> datetime | None:
    """Naive times are taken as UTC; times that UTC cannot hold are refused."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise validation_error(("query", field), "date is out of range in UTC", value.isoformat()) from None


# async: it does no I/O, and a sync dependency would cost a threadpool round trip per request
async def comment_filter(
    request_user: Annotated[str | None, Query(max_length=MAX_USER_CHARS)] = None,
    labeled: Annotated[bool | None, Query(description="Has a label (true) or not (false).")] = None,
    predicted: Annotated[bool | None, Query(description="Has a prediction (true) or not (false).")] = None,
    prediction_result: Emotion | None = None,
    label: Emotion | None = None,
    min_score: Annotated[float | None, Query(ge=0, le=1, allow_inf_nan=False)] = None,
    max_score: Annotated[float | None, Query(ge=0, le=1, allow_inf_nan=False)] = None,
    q: Annotated[str | None, Query(max_length=MAX_QUERY_CHARS, description="Text contains.")] = None,
    since: Annotated[datetime | None, Query(description="request_time >= since (naive = UTC).")] = None,
    until: Annotated[datetime | None, Query(description="request_time < until (naive = UTC).")] = None,
) -> CommentFilter:
    return CommentFilter(
        request_user=request_user,
        labeled=labeled,
        predicted=predicted,
        prediction_result=prediction_result,
        label=label,
        min_score=min_score,
        max_score=max_score,
        q=q,
        since=_aware(since, "since"),
        until=_aware(until, "until"),
    )


FilterDep = Annotated[CommentFilter, Depends(comment_filter)]


@router.post(
    "/comments",
    status_code=201,
    response_model=CommentCreated,
    responses=error_responses(400, 413, 429, 503),
    summary="Submit a comment",
)
def create_comment(body: CommentIn, request: Request, settings: SettingsDep) -> Response:
    ratelimit.hit(request, settings.submit_ip_rate_limit, "submit-ip", ratelimit.client_address(request))
    ratelimit.hit(request, settings.submit_rate_limit, "submit-user", body.request_user)
    # The hot path: one INSERT and one commit, no session dependency. The JSON is built here, so FastAPI
    # does not validate the response again in a second trip through the threadpool.
    with open_session(settings) as session:
        comment = queries.insert_comment(session, request_user=body.request_user, text=body.comments)
    return Response(
        CommentCreated.model_validate(comment).model_dump_json(), 201, media_type="application/json"
    )


@router.get(
    "/comments/by-receipt/{receipt}",
    response_model=CommentOut,
    responses=error_responses(404, 503),
    summary="Look a comment up by its receipt",
)
def comment_by_receipt(receipt: Annotated[str, Path(max_length=64)], session: SessionDep) -> CommentOut:
    comment = queries.get_comment_by_receipt(session, receipt)
    if comment is None:
        raise HTTPException(status_code=404, detail="No comment with this receipt")
    return CommentOut.model_validate(comment)


@router.get(
    "/comments",
    response_model=CommentPage,
    responses=error_responses(400, 401, 403, 503),
    summary="Browse comments (admin)",
)
def list_comments(
    _admin: AdminDep,
    session: SessionDep,
    flt: FilterDep,
    sort: Sort = "newest",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=512, description="next_cursor of the previous page.")
    ] = None,
    with_total: bool = False,
) -> CommentPage:
    try:
        after = queries.decode_cursor(cursor, sort) if cursor else None
    except InvalidCursorError:
        raise HTTPException(status_code=400, detail=INVALID_CURSOR) from None
    page = queries.list_comments(session, flt, sort=sort, limit=limit, after=after)
    return CommentPage(
        items=[CommentOut.model_validate(item) for item in page.items],
        next_cursor=queries.encode_cursor(page.next_key) if page.next_key is not None else None,
        total=queries.count_comments(session, flt) if with_total else None,
    )


@router.get(
    "/comments/{num}",
    response_model=CommentOut,
    responses=error_responses(401, 403, 404, 503),
    summary="One comment (admin)",
)
def get_comment(num: NumPath, _admin: AdminDep, session: SessionDep) -> CommentOut:
    comment = queries.get_comment(session, num)
    if comment is None:
        raise HTTPException(status_code=404, detail=f"Comment {num} not found")
    return CommentOut.model_validate(comment)


@router.put(
    "/comments/{num}/label",
    response_model=CommentOut,
    responses=error_responses(400, 401, 403, 404, 413, 503),
    summary="Set or clear the label of a comment (admin)",
)
def set_label(num: NumPath, body: LabelIn, admin: AdminDep, session: SessionDep) -> CommentOut:
    try:
        comment = labels.set_label(
            session,
            num,
            label=body.label,
            remark=body.remark,
            keep_remark="remark" not in body.model_fields_set,
            by=admin.name,
        )
    except labels.CommentNotFoundError as error:
        raise HTTPException(status_code=404, detail=str(error)) from None
    return CommentOut.model_validate(comment)


@router.get(
    "/comments/{num}/history",
    response_model=list[LabelEventOut],
    responses=error_responses(401, 403, 404, 503),
    summary="Label changes of a comment, newest first (admin)",
)
def label_history(num: NumPath, _admin: AdminDep, session: SessionDep) -> list[LabelEventOut]:
    try:
        events = labels.history(session, num)
    except labels.CommentNotFoundError as error:
        raise HTTPException(status_code=404, detail=str(error)) from None
    return [LabelEventOut.model_validate(event) for event in events]
