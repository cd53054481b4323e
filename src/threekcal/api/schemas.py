"""Request and response bodies; limits and rules come from threekcal.validation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AliasChoices, BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from threekcal.emotions import Emotion
from threekcal.validation import (
    MAX_COMMENT_CHARS,
    MAX_REMARK_CHARS,
    MAX_USER_CHARS,
    NAME_PATTERN,
    InvalidInput,
    clean_comment,
    clean_name,
    clean_remark,
)

MAX_ACCEPT_NUMS = 1000
LabelSource = Literal["chosen", "accepted", "bulk_accepted", "resolved"]
MAX_NUM = 2**63 - 1


def _pydantic(check: Callable[..., Any]) -> Callable[..., Any]:
    """A rule of threekcal.validation as a pydantic validator: its refusal becomes a 422 naming the field."""

    def validate(value: Any) -> Any:
        try:
            return check(value)
        except InvalidInput as error:
            raise PydanticCustomError(error.code, error.message_template, error.context) from None

    return validate


RequestUser = Annotated[
    str,
    AfterValidator(_pydantic(clean_name)),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_USER_CHARS,
            "pattern": NAME_PATTERN,
            "description": "Who writes; NFC-normalised and trimmed, 1-64 characters, no control, "
            "invisible formatting (bidi, zero-width) or unassigned characters.",
        }
    ),
]
CommentText = Annotated[
    str,
    AfterValidator(_pydantic(clean_comment)),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_COMMENT_CHARS,
            "pattern": r"\S",
            "description": "The text; trimmed, 1-2000 characters, not only spaces.",
        }
    ),
]
Remark = Annotated[
    str | None,
    AfterValidator(_pydantic(clean_remark)),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "maxLength": MAX_REMARK_CHARS}, {"type": "null"}],
            "description": "Free note of the labeller; trimmed, at most 500 characters; blank means none.",
        }
    ),
]


class CommentIn(BaseModel):
    request_user: RequestUser
    comments: CommentText


class CommentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    num: int
    comments: str
    request_user: str
    request_time: datetime
    prediction_result: str | None
    prediction_score: float | None
    prediction_scores: dict[str, float] | None
    prediction_time: datetime | None
    model_version: str | None
    label: str | None
    remark: str | None
    labeled_by: str | None
    labeled_at: datetime | None
    label_source: LabelSource | None = Field(
        default=None,
        description="Where the label came from: chosen (picked by a person), accepted (a prediction "
        "accepted for this comment), bulk_accepted, resolved (an admin's decision on a disagreement).",
    )
    etag: str | None = Field(
        default=None,
        validation_alias=AliasChoices("label_etag", "etag"),
        description="The label state's ETag, as GET /comments/{num} sends it: send it as If-Match.",
    )
    audit: bool = Field(default=False, description="Labelled from the audit queue: in the audit sample.")


class ReceiptOut(BaseModel):
    """What anyone holding the receipt sees: the comment and its prediction, never who reviewed it."""

    model_config = ConfigDict(from_attributes=True)

    num: int
    comments: str
    request_user: str
    request_time: datetime
    prediction_result: str | None
    prediction_score: float | None
    prediction_scores: dict[str, float] | None
    prediction_time: datetime | None
    model_version: str | None
    reviewed: bool = Field(description="A label has been set for this comment.")


class CommentCreated(ReceiptOut):
    receipt: str = Field(description="Opaque, URL-safe secret to look the comment up later.")


class LabelResult(CommentOut):
    judged: bool = Field(
        default=False, description="Recorded as your judgement (several annotators label each comment)."
    )
    complete: bool = Field(default=True, description="The comment has its label now.")


class CurrentLabel(BaseModel):
    label: str | None
    remark: str | None
    labeled_by: str | None
    labeled_at: datetime | None
    label_source: str | None
    etag: str


class StaleLabelOut(BaseModel):
    detail: str
    current: CurrentLabel


class CommentPage(BaseModel):
    items: list[CommentOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
    total: int | None = Field(default=None, description="Matching comments; only with `with_total=true`.")


class LabelIn(BaseModel):
    label: Emotion | None = Field(description="One of the seven emotions, or null to clear the label.")
    remark: Remark = Field(default=None, description="Left out: the current remark stays; null clears it.")
    source: Literal["chosen", "accepted"] = Field(
        default="chosen",
        description="accepted: the person accepted the prediction shown for this comment (must match it).",
    )
    audit: bool = Field(
        default=False,
        description="true: the comment was served by the audit queue (GET /comments?sort=audit); its label "
        "puts it in the audit sample (comments.audit), the unbiased sample of the accuracy.",
    )


Num = Annotated[int, Field(ge=1, le=MAX_NUM)]


class AcceptIn(BaseModel):
    nums: list[Num] = Field(min_length=1, max_length=MAX_ACCEPT_NUMS)
    overwrite: bool = Field(default=False, description="Replace labels set by a person too (admins only).")
    remark: Remark = Field(default=None, description="Remark of the accepted labels; default: none.")


class SkippedOut(BaseModel):
    num: int
    reason: str


class AcceptOut(BaseModel):
    accepted: int
    skipped: list[SkippedOut] = Field(
        description="Comments not labelled, with the reason: not found, no prediction yet, or a label set "
        "by a person (send overwrite: true as an admin to replace it)."
    )


class ResolveIn(BaseModel):
    label: Emotion
    remark: Remark = None


class JudgementOut(BaseModel):
    username: str
    label: str
    remark: str | None
    judged_at: datetime


class DisagreementOut(BaseModel):
    num: int
    comments: str
    prediction_result: str | None
    judgements: list[JudgementOut]


class PairAgreement(BaseModel):
    annotators: list[str]
    common: int
    kappa: float | None = Field(description="Cohen's kappa (scikit-learn); null when undefined.")


class AnnotatorAgreement(BaseModel):
    username: str
    judgements: int
    with_final_label: int
    agreement_with_final: float | None
    per_day: dict[str, int]


class AgreementOut(BaseModel):
    annotators: list[AnnotatorAgreement]
    pairs: list[PairAgreement] = Field(description="Pairs with at least min_common comments in common.")
    krippendorff_alpha: float | None = Field(description="Nominal alpha over every judgement.")
    comments: int
    judgements: int
    min_common: int
    labels_per_comment: int


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    username: str
    role: str
    active: bool
    created_at: datetime
    last_login_at: datetime | None


class UndoIn(BaseModel):
    num: Num | None = Field(default=None, description="Comment to undo; null: your newest change.")


class LabelEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    num: int
    action: Literal["set", "accept", "undo", "resolve"]
    changed_by: str
    label_source: LabelSource | None = None
    changed_at: datetime
    old_label: str | None
    new_label: str | None
    old_remark: str | None
    new_remark: str | None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    request_user: str
    comments: int
    predicted: int
    labeled: int
    last_request_time: datetime | None


class Counts(BaseModel):
    total: int
    pending: int
    predicted: int
    labeled: int
    labeled_and_predicted: int
    scored: int = Field(
        default=0, description="Labelled and predicted comments in the selected label sources."
    )
    by_label_source: dict[str, int] = Field(
        default_factory=dict, description="Labelled comments per label source (all sources)."
    )


class ClassMetrics(BaseModel):
    label: str
    precision: float
    recall: float
    f1: float
    support: int


class AverageMetrics(BaseModel):
    precision: float
    recall: float
    f1: float
    support: int


class ScoreHistogram(BaseModel):
    bins: list[float] = Field(description="21 bin edges from 0 to 1.")
    counts: dict[str, list[int]] = Field(description="Per predicted label, 20 counts.")


class Calibration(BaseModel):
    bins: list[float]
    count: list[int]
    mean_confidence: list[float | None]
    accuracy: list[float | None]
    ece: float | None


class RocCurve(BaseModel):
    fpr: list[float]
    tpr: list[float]
    auc: float | None


class PrCurve(BaseModel):
    precision: list[float]
    recall: list[float]
    average_precision: float | None


class Curves(BaseModel):
    roc: RocCurve
    pr: PrCurve


class TimelineDay(BaseModel):
    day: str = Field(description="Day in the requested time zone (`tz`, default UTC), YYYY-MM-DD.")
    total: int
    by_prediction: dict[str, int]
    pending: int = 0
    predicted: int = 0
    labeled: int = 0
    scored: int = Field(default=0, description="Labelled and predicted: the n of `accuracy`.")
    correct: int = 0
    accuracy: float | None = Field(
        default=None, description="correct / scored; null without scored comments."
    )
    audit_scored: int = 0
    audit_correct: int = 0
    audit_accuracy: float | None = None
    by_model: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="Predicted labels per model version ('unknown' when not recorded)."
    )


class AuditAccuracy(BaseModel):
    n: int = Field(description="Audit-sample comments with a label and a prediction (both in the 7 labels).")
    correct: int
    accuracy: float | None = Field(description="correct / n; null when n is 0.")
    ci_low: float | None = Field(description="Lower end of the Wilson score interval; null when n is 0.")
    ci_high: float | None
    confidence: float = 0.95
    method: Literal["wilson"] = "wilson"


class SupportedMacro(BaseModel):
    precision: float | None
    recall: float | None
    f1: float | None
    support: int


class DailyOut(BaseModel):
    tz: str
    days: list[TimelineDay]
    generated_at: datetime


class UserAccuracy(BaseModel):
    request_user: str
    total: int
    labeled: int
    scored: int = Field(description="Labelled and predicted: the n of `accuracy`.")
    correct: int
    accuracy: float | None


class StatsOut(BaseModel):
    counts: Counts
    labels: list[str]
    accuracy: float | None
    confusion_matrix: list[list[int]] = Field(description="Rows: true label; columns: predicted label.")
    per_class: list[ClassMetrics]
    macro_avg: AverageMetrics
    weighted_avg: AverageMetrics
    score_histogram: ScoreHistogram
    calibration: Calibration
    curves: dict[str, Curves]
    timeline: list[TimelineDay]
    per_user: list[UserAccuracy]
    tz: str = Field(default="UTC", description="The time zone of the days in `timeline`.")
    accuracy_n: int = Field(default=0, description="The n of `accuracy` (labelled and predicted, scored).")
    small_sample: int = Field(default=30, description="Rates on fewer examples than this are small samples.")
    supported_labels: list[str] = Field(default_factory=list, description="Labels with support > 0.")
    unsupported_labels: list[str] = Field(
        default_factory=list, description="Labels without support: their P/R/F1 mean nothing (show '—')."
    )
    macro_avg_supported: SupportedMacro | None = Field(
        default=None, description="Macro average over the supported labels only."
    )
    audit: AuditAccuracy | None = Field(
        default=None,
        description="Accuracy on the uniformly random audit sample, unbiased by the labelling order.",
    )
    generated_at: datetime = Field(description="When these figures were computed.")
    age_seconds: float = Field(description="Seconds since generated_at when this answer was served.")


class HealthOut(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]
    schema_revision: str
    schema_head: str


class PipelineOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    pending: int
    last_predict: dict[str, Any] | None
    last_apply: dict[str, Any] | None
    unapplied_logs: int
    quarantined_lines: int


class ErrorOut(BaseModel):
    detail: str
