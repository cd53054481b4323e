"""Comments: submit, look up by receipt, browse the queue, label one (ETag/If-Match), its history."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from threekcal.api import idempotency_pruning, ratelimit
from threekcal.api.deps import SessionDep, SettingsDep, open_session
from threekcal.api.errors import error_responses, validation_error
from threekcal.api.policy import Action, Allowed, Caller, allowed
from threekcal.api.schemas import (
    MAX_NUM,
    CommentCreated,
    CommentIn,
    CommentOut,
    CommentPage,
    CurrentLabel,
    LabelEventOut,
    LabelIn,
    LabelResult,
    LabelSource,
    ReceiptOut,
    StaleLabelOut,
)
from threekcal.db import idempotency, judgements, labels, queries
from threekcal.db.models import Comment
from threekcal.db.queries import CommentFilter, InvalidCursorError, Sort
from threekcal.emotions import Emotion
from threekcal.settings import Settings
from threekcal.validation import (
    MAX_IDEMPOTENCY_KEY_CHARS,
    MAX_USER_CHARS,
    InvalidInput,
    clean_idempotency_key,
)

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
    label_source: Annotated[
        list[LabelSource] | None, Query(description="Only labels from these sources (repeat the parameter).")
    ] = None,
    audit: Annotated[
        bool | None, Query(description="In the audit sample (true: labelled from the audit queue) or not.")
    ] = None,
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
        label_sources=tuple(label_source) if label_source else None,
        audit=audit,
    )


FilterDep = Annotated[CommentFilter, Depends(comment_filter)]


IDEMPOTENCY_DESCRIPTION = (
    "Optional (IETF httpapi Idempotency-Key draft): a unique value per submission, such as a UUID, sent "
    "again unchanged when retrying. The same key with the same body within THREEKCAL_IDEMPOTENCY_TTL_HOURS "
    "(24 h) answers the original 201 (same num and receipt) and stores nothing new; the same key with a "
    "different body is refused with 422."
)


@router.post(
    "/comments",
    status_code=201,
    response_model=CommentCreated,
    responses=error_responses(400, 413, 429, 503),
    summary="Submit a comment",
    description="Stores a comment and queues it for prediction. Send an `Idempotency-Key` so that a retry "
    "after a timeout or a 503 never stores it twice. Limited per username (THREEKCAL_SUBMIT_RATE_LIMIT) and "
    "per client address (THREEKCAL_SUBMIT_IP_RATE_LIMIT): 429 with Retry-After.",
)
def create_comment(
    body: CommentIn,
    request: Request,
    settings: SettingsDep,
    _caller: Caller(Action.SUBMIT),
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=MAX_IDEMPOTENCY_KEY_CHARS + 2,
            description=IDEMPOTENCY_DESCRIPTION,
        ),
    ] = None,
) -> Response:
    key = _checked_key(idempotency_key) if idempotency_key is not None else None
    ratelimit.hit(request, settings.submit_ip_rate_limit, "submit-ip", ratelimit.client_address(request))
    ratelimit.hit(request, settings.submit_rate_limit, "submit-user", body.request_user)
    # The hot path: one INSERT and one commit, no session dependency. The JSON is built here, so FastAPI
    # does not validate the response again in a second trip through the threadpool.
    with open_session(settings) as session:
        if key is None:
            comment = queries.insert_comment(session, request_user=body.request_user, text=body.comments)
        else:
            comment = _insert_once(session, settings, key, body)
    pruner: idempotency_pruning.Pruner = request.app.state.idempotency_pruner
    pruner.maybe_prune(settings)
    return Response(
        CommentCreated.model_validate(comment).model_dump_json(), 201, media_type="application/json"
    )


def _checked_key(raw_key: str) -> str:
    try:
        return clean_idempotency_key(raw_key)
    except InvalidInput as error:
        raise validation_error(("header", "Idempotency-Key"), str(error), raw_key) from None


def _insert_once(session: Session, settings: Settings, key: str, body: CommentIn) -> Comment:
    try:
        comment, _replayed = idempotency.insert_comment_once(
            session,
            request_user=body.request_user,
            text=body.comments,
            key=key,
            window=timedelta(hours=settings.idempotency_ttl_hours),
        )
    except idempotency.IdempotencyKeyReusedError as error:
        raise validation_error(("header", "Idempotency-Key"), str(error), key) from None
    return comment


@router.get(
    "/comments/by-receipt/{receipt}",
    response_model=ReceiptOut,
    responses=error_responses(404, 503),
    summary="Look a comment up by its receipt: the text, its prediction and whether it was reviewed",
)
def comment_by_receipt(
    receipt: Annotated[str, Path(max_length=64)], session: SessionDep, _caller: Caller(Action.READ_RECEIPT)
) -> ReceiptOut:
    comment = queries.get_comment_by_receipt(session, receipt)
    if comment is None:
        raise HTTPException(status_code=404, detail="No comment with this receipt")
    return ReceiptOut.model_validate(comment)


Browser = Allowed(Action.BROWSE)
Labeller = Allowed(Action.LABEL)


@router.get(
    "/comments",
    response_model=CommentPage,
    responses=error_responses(400, 401, 403, 503),
    summary="Browse comments; an annotator's queue when several annotators label each comment",
)
def list_comments(
    principal: Browser,
    session: SessionDep,
    settings: SettingsDep,
    flt: FilterDep,
    sort: Sort = "newest",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=512, description="next_cursor of the previous page.")
    ] = None,
    with_total: bool = False,
    queue: Annotated[
        bool, Query(description="Only comments you still have to label (not labelled, not judged by you).")
    ] = False,
) -> CommentPage:
    # Annotators label blind when several judge each comment: they never see others' finished work.
    blind = settings.labels_per_comment > 1 and not allowed(principal.role, Action.RESOLVE)
    if queue or blind:
        flt = replace(
            flt, extra=tuple(judgements.queue_conditions(principal.id, settings.labels_per_comment))
        )
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


def etag(comment: Comment) -> str:
    """The ETag of a comment's label state: it changes with every label change (RFC 9110)."""
    return comment.label_etag


def _expected_version(if_match: str | None, num: int) -> int | None:
    """The label_version an If-Match names; None for no header or "*"; -1 when it names no version of
    this comment (so the write is refused as stale)."""
    if if_match is None or if_match.strip() == "*":
        return None
    for candidate in (part.strip() for part in if_match.split(",")):
        tag = candidate.removeprefix("W/").strip('"')
        prefix = f"{num}-"
        if tag.startswith(prefix) and tag[len(prefix) :].isdigit():
            return int(tag[len(prefix) :])
    return -1


@router.get(
    "/comments/{num}",
    response_model=CommentOut,
    responses=error_responses(401, 403, 404, 503),
    summary="One comment, with the ETag of its label state",
)
def get_comment(num: NumPath, _principal: Browser, session: SessionDep, response: Response) -> CommentOut:
    comment = queries.get_comment(session, num)
    if comment is None:
        raise HTTPException(status_code=404, detail=f"Comment {num} not found")
    response.headers["ETag"] = etag(comment)
    return CommentOut.model_validate(comment)


def _stale(comment: Comment) -> JSONResponse:
    current = CurrentLabel(
        label=comment.label,
        remark=comment.remark,
        labeled_by=comment.labeled_by,
        labeled_at=comment.labeled_at,
        label_source=comment.label_source,
        etag=etag(comment),
    )
    body = StaleLabelOut(
        detail=f"Comment {comment.num} was changed by {comment.labeled_by or 'someone'} since you read it: "
        "nothing was saved. Read it again, then re-apply your label or keep theirs.",
        current=current,
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=412, headers={"ETag": current.etag})


@router.put(
    "/comments/{num}/label",
    response_model=LabelResult,
    responses={
        **error_responses(400, 401, 403, 404, 409, 413, 503),
        412: {"model": StaleLabelOut, "description": "If-Match is stale: the current label, remark, author"},
    },
    summary="Set or clear the label of a comment (send If-Match with the ETag you read)",
)
def set_label(
    num: NumPath,
    body: LabelIn,
    principal: Labeller,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
    if_match: Annotated[
        str | None, Header(max_length=512, description="The ETag of GET /comments/{num}; stale: 412.")
    ] = None,
) -> LabelResult | JSONResponse:
    try:
        outcome = labels.set_label(
            session,
            num,
            label=body.label,
            remark=body.remark,
            keep_remark="remark" not in body.model_fields_set,
            by=principal,
            source=body.source,
            expected_version=_expected_version(if_match, num),
            required=settings.labels_per_comment,
            may_override=allowed(principal.role, Action.RESOLVE),
            audit=body.audit,
        )
    except labels.CommentNotFoundError as error:
        raise HTTPException(status_code=404, detail=str(error)) from None
    except labels.StaleLabelError as error:
        return _stale(error.comment)
    except labels.LabelConflictError as error:
        raise HTTPException(status_code=409, detail=str(error)) from None
    response.headers["ETag"] = etag(outcome.comment)
    result = LabelResult.model_validate(outcome.comment)
    return result.model_copy(update={"judged": outcome.judged, "complete": outcome.complete})


@router.get(
    "/comments/{num}/history",
    response_model=list[LabelEventOut],
    responses=error_responses(401, 403, 404, 503),
    summary="Label changes of a comment, newest first",
)
def label_history(num: NumPath, _principal: Browser, session: SessionDep) -> list[LabelEventOut]:
    try:
        events = labels.history(session, num)
    except labels.CommentNotFoundError as error:
        raise HTTPException(status_code=404, detail=str(error)) from None
    return [LabelEventOut.model_validate(event) for event in events]
