"""Strings of the focused labelling page (/annotate; English and Korean); merged into
``threekcal.ui.i18n.STRINGS``."""

from __future__ import annotations

from typing import Final

ANNOTATE_STRINGS: Final[dict[str, dict[str, str]]] = {
    "nav_annotate": {"en": "Annotate (keyboard)", "ko": "라벨링 (키보드)"},
    "annotate_title": {"en": "Annotate, one comment at a time", "ko": "한 번에 코멘트 하나씩 라벨링"},
    "annotate_keys": {
        "en": "Keys: **1**–**7** set the label · **Enter** accepts the prediction · **S** skips · "
        "**U** undoes your last change · **R** writes a remark (**Enter** or **Esc** to leave it).",
        "ko": "키: **1**–**7** 라벨 지정 · **Enter** 예측 수락 · **S** 건너뛰기 · **U** 마지막 변경 취소 · "
        "**R** 메모 쓰기 (**Enter** 또는 **Esc**로 나가기).",
    },
    "annotate_mode": {"en": "Queue", "ko": "대기열"},
    "annotate_mode_least_confident": {"en": "Least confident first", "ko": "확신이 낮은 순"},
    "annotate_mode_audit": {"en": "Audit (random sample)", "ko": "감사 (무작위 표본)"},
    "annotate_audit_note": {
        "en": "Audit mode serves a uniformly random sample of predicted comments (labelled ones included, "
        "so the sample stays uniform); every label you give here marks the comment as part of the audit "
        "sample, whose accuracy is not biased by the labelling order. Skipping here biases the sample: "
        "skip only what you cannot judge.",
        "ko": "감사 모드는 예측된 코멘트 중 균등한 무작위 표본을 보여 줍니다(표본이 균등하도록 라벨이 있는 "
        "코멘트도 포함). 여기서 준 라벨은 감사 표본으로 표시되며, 그 정확도는 라벨링 순서에 따른 편향이 "
        "없습니다. 여기서 건너뛰면 표본이 치우치니 판단할 수 없는 것만 건너뛰세요.",
    },
    "annotate_queue_note": {
        "en": "Comments you have not labelled yet, least confident prediction first.",
        "ko": "아직 라벨을 지정하지 않은 코멘트, 예측 확신이 낮은 순.",
    },
    "annotate_login_needed": {
        "en": "Log in to label comments.",
        "ko": "코멘트에 라벨을 지정하려면 로그인하세요.",
    },
    "annotate_comment_head": {"en": "#{num} · by {user}", "ko": "#{num} · 작성자 {user}"},
    "annotate_prediction": {
        "en": "Prediction: **{label}** ({score})",
        "ko": "예측: **{label}** ({score})",
    },
    "annotate_no_prediction": {"en": "Not predicted yet.", "ko": "아직 예측되지 않았습니다."},
    "annotate_current_label": {
        "en": "Current label: {label} (by {user})",
        "ko": "현재 라벨: {label} ({user})",
    },
    "annotate_accept": {"en": "Accept {label}", "ko": "{label} 수락"},
    "annotate_accept_none": {"en": "Accept (no prediction)", "ko": "수락 (예측 없음)"},
    "annotate_skip": {"en": "Skip", "ko": "건너뛰기"},
    "annotate_undo": {"en": "Undo", "ko": "취소"},
    "annotate_remark": {"en": "Remark", "ko": "메모"},
    "annotate_remark_placeholder": {
        "en": "optional; press R to write, Enter to keep it",
        "ko": "선택 사항. R로 쓰고 Enter로 유지",
    },
    "annotate_done": {
        "en": "Nothing left in this queue.",
        "ko": "이 대기열에 남은 코멘트가 없습니다.",
    },
    "annotate_again": {"en": "Show the {count} skipped again", "ko": "건너뛴 {count}개 다시 보기"},
    "annotate_progress": {
        "en": "This session: {labelled} labelled · {skipped} skipped",
        "ko": "이번 세션: 라벨 {labelled}개 · 건너뜀 {skipped}개",
    },
    "annotate_saved": {"en": "#{num} is {label}.", "ko": "#{num}: {label}."},
    "annotate_stale": {
        "en": "#{num} was changed by {user} meanwhile: nothing was saved, it is skipped.",
        "ko": "#{num}은(는) 그사이 {user}이(가) 변경했습니다. 저장하지 않고 건너뜁니다.",
    },
    "annotate_undone": {
        "en": "Undone: #{num} is back to {label}.",
        "ko": "취소됨: #{num}이(가) {label}(으)로 돌아갔습니다.",
    },
    "annotate_undone_none": {
        "en": "Undone: #{num} has no label again.",
        "ko": "취소됨: #{num}에 다시 라벨이 없습니다.",
    },
}
