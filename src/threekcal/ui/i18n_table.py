"""Strings of the Label page's table, the upload page's limits and the API banner (issue 10), in English
and Korean; merged into :data:`threekcal.ui.i18n.STRINGS`."""

from __future__ import annotations

from typing import Final

TABLE_STRINGS: Final[dict[str, dict[str, str]]] = {
    # Bulk accept: exactly what the button will do
    "bulk_will_change": {
        "en": "Accepting labels {nums} with their prediction.",
        "ko": "수락하면 {nums}에 예측 라벨을 지정합니다.",
    },
    "bulk_nothing_changes": {
        "en": "Accepting changes no comment.",
        "ko": "수락해도 바뀌는 코멘트가 없습니다.",
    },
    "bulk_skips": {"en": "Skipped: {items}.", "ko": "건너뜀: {items}."},
    "bulk_item": {"en": "#{num} ({reason})", "ko": "#{num}({reason})"},
    "skip_no_prediction": {"en": "no prediction yet", "ko": "아직 예측 없음"},
    "skip_same_label": {
        "en": "already labelled with its prediction",
        "ko": "이미 예측과 같은 라벨",
    },
    "skip_person": {
        "en": "labelled by a person: {user}, {label}",
        "ko": "사람이 지정한 라벨: {user}, {label}",
    },
    "skip_unknown": {"en": "not loaded on this page", "ko": "이 페이지에 불러오지 않음"},
    "label_accepted_detail": {
        "en": "Accepted the prediction of {accepted} comments. {skipped}",
        "ko": "코멘트 {accepted}개의 예측을 수락했습니다. {skipped}",
    },
    "label_accepted_none_skipped": {"en": "Nothing skipped.", "ko": "건너뛴 코멘트 없음."},
    "col_picked": {"en": "Picked", "ko": "선택"},
    "label_table_help": {
        "en": "Click a row to open it in the editor below; pick comments for bulk actions in the box "
        "under the table.",
        "ko": "행을 누르면 아래 편집기에서 열립니다. 일괄 작업할 코멘트는 표 아래 상자에서 고르세요.",
    },
    "label_clear_selection": {"en": "Clear", "ko": "선택 해제"},
    # Export
    "export_csv": {"en": "Export CSV", "ko": "CSV 내보내기"},
    "export_jsonl": {"en": "Export JSONL", "ko": "JSONL 내보내기"},
    "export_help": {
        "en": "Every comment matching the current filters (all pages), from GET /comments/export.",
        "ko": "현재 필터에 맞는 모든 코멘트(모든 페이지), GET /comments/export에서 받습니다.",
    },
    # Upload limits
    "upload_count": {
        "en": "{length:,} / {limit:,} characters",
        "ko": "{length:,} / {limit:,}자",
    },
    "upload_count_over": {
        "en": "{length:,} / {limit:,} characters: {over:,} too many",
        "ko": "{length:,} / {limit:,}자: {over:,}자 초과",
    },
    "err_user_newline": {
        "en": "The username must be one line: remove the line break.",
        "ko": "사용자 이름은 한 줄이어야 합니다. 줄바꿈을 지워 주세요.",
    },
    # The API banner
    "api_banner": {
        "en": "The API is restarting or unreachable, retrying… ({url} cannot be reached: {reason})",
        "ko": "API가 다시 시작 중이거나 연결할 수 없습니다. 다시 시도하는 중… "
        "({url}에 연결할 수 없음: {reason})",
    },
}
