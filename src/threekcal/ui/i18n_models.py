"""Strings of the Models page (English and Korean); merged into ``threekcal.ui.i18n.STRINGS``."""

from __future__ import annotations

from typing import Final

MODEL_STRINGS: Final[dict[str, dict[str, str]]] = {
    "nav_models": {"en": "Models", "ko": "모델"},
    "models_title": {"en": "Model versions", "ko": "모델 버전"},
    "models_intro": {
        "en": "Every trained version is compared with the active model on the same held-out labelled "
        "comments, which no training ever uses. Promotion is a person's decision.",
        "ko": "학습된 모든 버전은 학습에 쓰이지 않는 같은 평가용 라벨 코멘트로 활성 모델과 비교됩니다. "
        "승격은 사람이 결정합니다.",
    },
    "models_none": {
        "en": "No version is registered yet: the worker registers THREEKCAL_MODEL ({model}) "
        "on its first cycle.",
        "ko": "등록된 버전이 없습니다. 워커가 첫 주기에 THREEKCAL_MODEL({model})을 등록합니다.",
    },
    "models_compare": {"en": "Compare a version with the active one", "ko": "활성 모델과 비교할 버전"},
    "models_no_evaluation": {
        "en": "This version has no held-out evaluation (it was not trained here).",
        "ko": "이 버전에는 평가 결과가 없습니다(여기서 학습되지 않았습니다).",
    },
    "models_verdict": {
        "en": "Verdict: **{verdict}** (exact McNemar p = {p:.3g}; {only_candidate} comments only the "
        "candidate got right, {only_active} only the active model), on {n} held-out comments.",
        "ko": "판정: **{verdict}** (정확 McNemar p = {p:.3g}; 후보만 맞힌 코멘트 {only_candidate}개, "
        "활성 모델만 맞힌 코멘트 {only_active}개), 평가 코멘트 {n}개 기준.",
    },
    "models_candidate": {"en": "Candidate (version {id})", "ko": "후보(버전 {id})"},
    "models_active": {"en": "Active at training (version {id})", "ko": "학습 당시 활성(버전 {id})"},
    "models_per_class_f1": {"en": "F1 per emotion", "ko": "감정별 F1"},
    "models_promote": {"en": "Promote version {id}", "ko": "버전 {id} 승격"},
    "models_rollback": {"en": "Roll back to the previous version", "ko": "이전 버전으로 되돌리기"},
    "models_train": {"en": "Train a new version", "ko": "새 버전 학습"},
    "models_rescore": {"en": "Re-score unlabelled comments", "ko": "라벨 없는 코멘트 다시 예측"},
    "models_admin_only": {
        "en": "Only admins promote, roll back, train or re-score.",
        "ko": "승격, 되돌리기, 학습, 다시 예측은 관리자만 할 수 있습니다.",
    },
    "models_login_needed": {
        "en": "Log in on the Label page to see the model versions and training jobs.",
        "ko": "모델 버전과 학습 작업을 보려면 라벨 페이지에서 로그인하세요.",
    },
    "models_promoted": {
        "en": "Version {id} is active from the next worker cycle.",
        "ko": "다음 워커 주기부터 버전 {id}이(가) 활성입니다.",
    },
    "models_queued": {
        "en": "Job {id} queued; the worker runs it.",
        "ko": "작업 {id}이(가) 대기열에 들어갔습니다. 워커가 실행합니다.",
    },
    "models_job": {"en": "Job {id} ({kind}): {state}", "ko": "작업 {id}({kind}): {state}"},
    "models_drift": {"en": "Drift of the active model", "ko": "활성 모델의 드리프트"},
    "models_drift_none": {
        "en": "No day to compare yet (the reference is the {days} days after the promotion).",
        "ko": "아직 비교할 날이 없습니다(기준은 승격 후 {days}일입니다).",
    },
    "models_drift_flagged": {"en": "Days with drift: {days}", "ko": "드리프트가 있는 날: {days}"},
    "models_metric": {"en": "Metric", "ko": "지표"},
}
