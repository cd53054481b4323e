"""Strings of the Statistics page's sample sizes, audit sample, time zone and "Over time" view (English
and Korean); merged into ``threekcal.ui.i18n.STRINGS``."""

from __future__ import annotations

from typing import Final

STATS_STRINGS: Final[dict[str, dict[str, str]]] = {
    "stats_accuracy_all": {"en": "Accuracy over all labels", "ko": "전체 라벨 정확도"},
    "stats_accuracy_all_note": {
        "en": "Biased by the labelling order: the Label queue serves the least confident predictions "
        "first, so these labels are not a random sample of comments.",
        "ko": "라벨 순서에 따른 편향이 있습니다. 라벨 대기열은 확신도가 가장 낮은 예측부터 보여 주므로 "
        "이 라벨은 코멘트의 무작위 표본이 아닙니다.",
    },
    "stats_accuracy_audit": {"en": "Accuracy on the audit sample", "ko": "감사 표본 정확도"},
    "stats_audit_interval": {
        "en": "95% Wilson interval {interval}, on {n} comments labelled from the uniformly random audit "
        "queue: an unbiased estimate.",
        "ko": "95% Wilson 구간 {interval}, 균등 무작위 감사 대기열에서 라벨을 지정한 코멘트 {n}개 기준: "
        "편향 없는 추정입니다.",
    },
    "stats_audit_none": {
        "en": "No audit sample yet. For an unbiased accuracy, label comments on the Annotate page "
        '(/annotate) in audit mode (Queue: "Audit (random sample)"), which serves a uniformly random '
        "sample instead of the least confident first.",
        "ko": "아직 감사 표본이 없습니다. 편향 없는 정확도를 보려면 라벨링 페이지(/annotate)의 감사 모드"
        '(대기열: "감사 (무작위 표본)")에서 라벨을 지정하세요. 확신도가 낮은 순서가 아니라 균등 무작위 '
        "표본을 보여 줍니다.",
    },
    "stats_small_sample": {
        "en": "Small sample: fewer than {small} comments, so this rate can move a lot with a few more "
        "labels.",
        "ko": "작은 표본: 코멘트가 {small}개 미만이라 라벨 몇 개로도 비율이 크게 바뀔 수 있습니다.",
    },
    "stats_small_flag": {"en": "⚠ small sample (n < {small})", "ko": "⚠ 작은 표본 (n < {small})"},
    "stats_small_hatched": {
        "en": "Hatched bars rest on fewer than {small} comments; whiskers are 95% Wilson intervals.",
        "ko": "빗금 막대는 코멘트 {small}개 미만에 근거합니다. 수염은 95% Wilson 구간입니다.",
    },
    "stats_small_hatched_only": {
        "en": "Hatched bars rest on fewer than {small} comments.",
        "ko": "빗금 막대는 코멘트 {small}개 미만에 근거합니다.",
    },
    "stats_no_support": {"en": "no labelled comment", "ko": "라벨 있는 코멘트 없음"},
    "stats_macro_classes": {
        "en": "over {count} of {total} classes",
        "ko": "{total}개 클래스 중 {count}개 기준",
    },
    "stats_macro_note": {
        "en": 'No labelled comment is truly {classes}: shown as "—" and left out of the macro average '
        "(averaged over the {count} classes that have labelled comments).",
        "ko": '실제 라벨이 {classes}인 코멘트가 없습니다. "—"로 표시하고 매크로 평균에서 제외했습니다'
        "(라벨 있는 코멘트가 있는 클래스 {count}개의 평균).",
    },
    "stats_sample_column": {"en": "Sample", "ko": "표본"},
    "stats_timezone": {"en": "Days and times in {zone}.", "ko": "날짜와 시각은 {zone} 기준입니다."},
    "stats_timezone_unknown": {
        "en": "Days and times in UTC: the browser has not told its time zone.",
        "ko": "날짜와 시각은 UTC 기준입니다. 브라우저가 시간대를 알려 주지 않았습니다.",
    },
    "chart_accuracy_per_day": {"en": "Accuracy per day", "ko": "일별 정확도"},
    "chart_mix_by_version": {
        "en": "Predicted emotions per day, by model version",
        "ko": "모델 버전별 일별 예측 감정 비율",
    },
    "stats_model_version": {"en": "model {version}", "ko": "모델 {version}"},
    "stats_model_unknown": {"en": "unknown version", "ko": "버전 모름"},
    "stats_no_accuracy_days": {
        "en": "No day has a comment with both a label and a prediction yet.",
        "ko": "라벨과 예측이 모두 있는 코멘트가 있는 날이 아직 없습니다.",
    },
    "stats_day_hover": {
        "en": "%{x|%Y-%m-%d}: %{y:.1%} (n=%{customdata[0]}, 95% %{customdata[1]})",
        "ko": "%{x|%Y-%m-%d}: %{y:.1%} (n=%{customdata[0]}, 95% %{customdata[1]})",
    },
    "stats_mix_hover": {
        "en": "%{x|%Y-%m-%d} %{fullData.name}: %{y:.1%} (%{customdata[0]} of n=%{customdata[1]})",
        "ko": "%{x|%Y-%m-%d} %{fullData.name}: %{y:.1%} (n=%{customdata[1]} 중 %{customdata[0]})",
    },
}
