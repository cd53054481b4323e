"""Who may do what: the one place that says it. Every route names its action in ROUTES and checks it
through ``require(action)`` (a dependency); tests walk every route of the app against this table.

Anonymous callers may do the PUBLIC actions. Annotators browse the queue, label, remark and undo their
own last change. Admins may also bulk accept (and overwrite human labels), undo anyone's change, export,
see per-user statistics and agreement, resolve disagreements, manage accounts and manage models
(promote, roll back, queue training and re-scoring). Model versions and training jobs (authors, log
tails) need a signed-in account; drift figures are public like the statistics.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import cache
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from threekcal.api.auth import CredentialsDep, Principal, optional_principal, principal_from
from threekcal.api.deps import SessionDep, SettingsDep, open_session


class Action(StrEnum):
    # anyone
    SUBMIT = "submit"  # send a comment
    READ_RECEIPT = "read_receipt"  # look one's comment up by its receipt
    READ_PUBLIC = "read_public"  # health, pipeline state, aggregate statistics
    LOGIN = "login"
    # annotators and admins
    READ_SELF = "read_self"
    BROWSE = "browse"  # the queue, one comment, its history
    LABEL = "label"  # set a label and remark, accept the prediction of one comment
    UNDO_OWN = "undo_own"
    READ_MODELS = "read_models"  # model versions, their authors, training jobs and their log tails
    # admins
    UNDO_ANY = "undo_any"
    BULK_ACCEPT = "bulk_accept"
    OVERWRITE_LABELS = "overwrite_labels"  # bulk accept over human labels
    EXPORT = "export"
    USER_STATS = "user_stats"  # per-user statistics, agreement between annotators
    RESOLVE = "resolve"  # the disagreements queue and its decisions
    MANAGE_USERS = "manage_users"
    MANAGE_MODELS = "manage_models"  # promote, roll back, queue training and re-scoring


PUBLIC: frozenset[Action] = frozenset({Action.SUBMIT, Action.READ_RECEIPT, Action.READ_PUBLIC, Action.LOGIN})
_ANNOTATOR = frozenset({Action.READ_SELF, Action.BROWSE, Action.LABEL, Action.UNDO_OWN, Action.READ_MODELS})
ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    "annotator": PUBLIC | _ANNOTATOR,
    "admin": PUBLIC
    | _ANNOTATOR
    | {
        Action.UNDO_ANY,
        Action.BULK_ACCEPT,
        Action.OVERWRITE_LABELS,
        Action.EXPORT,
        Action.USER_STATS,
        Action.RESOLVE,
        Action.MANAGE_USERS,
        Action.MANAGE_MODELS,
    },
}

# Every route of the API and the action it needs ("METHOD path" as FastAPI spells the path).
ROUTES: dict[str, Action] = {
    "POST /comments": Action.SUBMIT,
    "GET /comments/by-receipt/{receipt}": Action.READ_RECEIPT,
    "GET /comments": Action.BROWSE,
    "GET /comments/{num}": Action.BROWSE,
    "PUT /comments/{num}/label": Action.LABEL,
    "GET /comments/{num}/history": Action.BROWSE,
    "POST /labels/accept": Action.BULK_ACCEPT,
    "POST /labels/undo": Action.UNDO_OWN,  # undoing someone else's change also needs UNDO_ANY
    "GET /stats": Action.READ_PUBLIC,  # the per-user table only with USER_STATS
    "GET /stats/daily": Action.READ_PUBLIC,
    "GET /stats/agreement": Action.USER_STATS,
    "GET /users": Action.USER_STATS,
    "GET /export": Action.EXPORT,
    "GET /comments/export": Action.EXPORT,
    "GET /disagreements": Action.RESOLVE,
    "POST /disagreements/{num}/resolve": Action.RESOLVE,
    "GET /accounts": Action.MANAGE_USERS,
    "GET /health": Action.READ_PUBLIC,
    "GET /pipeline": Action.READ_PUBLIC,
    "POST /auth/login": Action.LOGIN,
    "GET /auth/me": Action.READ_SELF,
    "GET /models": Action.READ_MODELS,
    "GET /models/{version_id}": Action.READ_MODELS,
    "GET /models/jobs/{job_id}": Action.READ_MODELS,
    "POST /models/{version_id}/promote": Action.MANAGE_MODELS,
    "POST /models/rollback": Action.MANAGE_MODELS,
    "POST /models/train": Action.MANAGE_MODELS,
    "POST /models/rescore": Action.MANAGE_MODELS,
    "GET /drift": Action.READ_PUBLIC,  # aggregate figures of the active model's predictions, no names
}

NOT_ALLOWED = "Your role ({role}) may not do this ({action})"


def allowed(role: str | None, action: Action) -> bool:
    """Whether an account of ``role`` (None: anonymous) may do ``action``."""
    if role is None:
        return action in PUBLIC
    return action in ROLE_ACTIONS.get(role, frozenset())


def forbidden(role: str, action: Action) -> HTTPException:
    return HTTPException(status_code=403, detail=NOT_ALLOWED.format(role=role, action=action.value))


@cache
def require(action: Action) -> Callable[..., Any]:
    """The dependency that lets a request through only when its caller may do ``action``. Public
    actions read no credentials and give None (see ``identify`` for public routes that show more)."""
    if action in PUBLIC:

        async def public() -> None:
            return None

        public.action = action  # type: ignore[attr-defined]
        return public

    def authorized(
        request: Request, session: SessionDep, settings: SettingsDep, credentials: CredentialsDep
    ) -> Principal:
        principal = principal_from(request, session, settings, credentials)
        if not allowed(principal.role, action):
            raise forbidden(principal.role, action)
        return principal

    authorized.action = action  # type: ignore[attr-defined]
    return authorized


def Allowed(action: Action) -> Any:  # used as a type: `user: Allowed(Action.LABEL)`
    """``Annotated[Principal, Depends(require(action))]`` for a handler's parameter."""
    return Annotated[Principal, Depends(require(action))]


@cache
def identify(action: Action) -> Callable[..., Any]:
    """For a public route that shows more to some roles: lets everyone through like ``require`` and gives
    the caller's account when a valid token came with the request (else None)."""
    if action not in PUBLIC:
        raise ValueError(f"{action} is not public: use require()")

    def caller(request: Request, settings: SettingsDep, credentials: CredentialsDep) -> Principal | None:
        if credentials is None:
            return None
        with open_session(settings) as session:
            return optional_principal(request, session, settings, credentials)

    caller.action = action  # type: ignore[attr-defined]
    return caller


def Caller(action: Action) -> Any:  # public actions: None, or the account with identify()
    return Annotated[None, Depends(require(action))]


def Identified(action: Action) -> Any:
    return Annotated[Principal | None, Depends(identify(action))]
