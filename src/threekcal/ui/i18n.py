"""Every string the web app shows, in English and Korean. ``translate(key, lang, **params)`` fills
``{name}`` placeholders with ``str.format``."""

from __future__ import annotations

from typing import Any, Final

from threekcal.ui.i18n_annotate import ANNOTATE_STRINGS
from threekcal.ui.i18n_models import MODEL_STRINGS
from threekcal.ui.i18n_stats import STATS_STRINGS
from threekcal.ui.i18n_table import TABLE_STRINGS

LANGUAGES: Final[dict[str, str]] = {"en": "English", "ko": "한국어"}

STRINGS: Final[dict[str, dict[str, str]]] = {
    # Navigation and shared words
    "language": {"en": "Language", "ko": "언어"},
    "nav_home": {"en": "Home", "ko": "홈"},
    "nav_upload": {"en": "Upload text", "ko": "텍스트 업로드"},
    "nav_label": {"en": "Label comments", "ko": "코멘트 라벨"},
    "nav_statistics": {"en": "Statistics", "ko": "결과 통계"},
    "nav_disagreements": {"en": "Disagreements", "ko": "의견 불일치"},
    "disagreements_title": {"en": "Disagreements between annotators", "ko": "라벨러 간 의견 불일치"},
    "disagreements_admins_only": {
        "en": "This page is for admins: log in as an admin on the Label page.",
        "ko": "관리자 전용 페이지입니다. 라벨 페이지에서 관리자로 로그인하세요.",
    },
    "disagreements_none": {"en": "No disagreement is waiting.", "ko": "기다리는 불일치가 없습니다."},
    "label_prediction_short": {"en": "prediction: {label}", "ko": "예측: {label}"},
    "resolve_label": {"en": "Decided label", "ko": "결정한 라벨"},
    "resolve": {"en": "Decide", "ko": "결정"},
    "resolve_pick": {"en": "Pick the label first.", "ko": "먼저 라벨을 고르세요."},
    "resolved": {"en": "Comment #{num} is {label} (resolved).", "ko": "코멘트 #{num}: {label} (결정됨)."},
    "agreement_title": {"en": "Agreement between annotators", "ko": "라벨러 간 일치도"},
    "agreement_no_pairs": {
        "en": "No two annotators have {count} comments in common yet (Cohen's kappa needs them).",
        "ko": "아직 공통 코멘트가 {count}개인 라벨러 쌍이 없습니다(Cohen's kappa에 필요).",
    },
    "retry": {"en": "Retry", "ko": "다시 시도"},
    "refresh": {"en": "Refresh", "ko": "새로고침"},
    "submit": {"en": "Submit", "ko": "제출"},
    "save": {"en": "Save", "ko": "저장"},
    "any": {"en": "Any", "ko": "전체"},
    "all_users": {"en": "All users", "ko": "모든 사용자"},
    "no_label": {"en": "— no label —", "ko": "— 라벨 없음 —"},
    "field": {"en": "Field", "ko": "항목"},
    "value": {"en": "Value", "ko": "값"},
    "model": {"en": "Model", "ko": "모델"},
    # Errors talking to the API
    "api_down": {
        "en": "The ThreeKcal API at {url} cannot be reached right now ({reason}). "
        "Check that it is running (`threekcal up` starts everything), then retry.",
        "ko": "지금은 ThreeKcal API({url})에 연결할 수 없습니다({reason}). "
        "API가 실행 중인지 확인한 뒤(`threekcal up`으로 모두 시작) 다시 시도하세요.",
    },
    "api_failed": {
        "en": "The API failed to answer (error {status}): {detail}. Retry in a moment.",
        "ko": "API가 요청을 처리하지 못했습니다(오류 {status}): {detail}. 잠시 후 다시 시도하세요.",
    },
    "api_refused": {
        "en": "The API refused the request (error {status}): {detail}",
        "ko": "API가 요청을 거부했습니다(오류 {status}): {detail}",
    },
    "login_rejected": {
        "en": "Your sign-in was not accepted any more: {detail}. Log in again.",
        "ko": "로그아웃되었습니다: {detail}. 다시 로그인하세요.",
    },
    "not_allowed": {
        "en": "Your role may not do this: {detail}",
        "ko": "이 작업을 할 권한이 없습니다: {detail}",
    },
    "login_failed": {
        "en": "Wrong username or password, or the account is disabled.",
        "ko": "사용자 이름 또는 비밀번호가 틀렸거나 비활성화된 계정입니다.",
    },
    "signed_in_as": {"en": "Signed in as **{user}** ({role})", "ko": "**{user}**(으)로 로그인됨 ({role})"},
    "role_admin": {"en": "admin", "ko": "관리자"},
    "role_annotator": {"en": "annotator", "ko": "라벨러"},
    "someone": {"en": "someone", "ko": "다른 사람"},
    # Emotions
    "emotion_anger": {"en": "anger", "ko": "분노"},
    "emotion_disgust": {"en": "disgust", "ko": "혐오"},
    "emotion_fear": {"en": "fear", "ko": "공포"},
    "emotion_joy": {"en": "joy", "ko": "기쁨"},
    "emotion_neutral": {"en": "neutral", "ko": "중립"},
    "emotion_sadness": {"en": "sadness", "ko": "슬픔"},
    "emotion_surprise": {"en": "surprise", "ko": "놀람"},
    # Home
    "home_title": {"en": "ThreeKcal: how does this text feel?", "ko": "ThreeKcal: 이 글은 어떤 감정일까요?"},
    "home_intro": {
        "en": "ThreeKcal collects short comments, predicts the emotion of each one with the DistilRoBERTa "
        "classifier `michellejieli/emotion_text_classifier` (anger 🤬, disgust 🤢, fear 😨, joy 😀, "
        "neutral 😐, sadness 😭, surprise 😲), lets an admin correct the predictions, and measures how "
        "well the model does.",
        "ko": "ThreeKcal은 짧은 코멘트를 모아 DistilRoBERTa 분류기 `michellejieli/emotion_text_classifier`로 "
        "각 코멘트의 감정(분노 🤬, 혐오 🤢, 공포 😨, 기쁨 😀, 중립 😐, 슬픔 😭, 놀람 😲)을 예측하고, "
        "관리자가 예측을 고치게 하며, 모델이 얼마나 잘 맞히는지 측정합니다.",
    },
    "home_pages": {
        "en": "- **Upload text**: send a comment and watch its prediction arrive.\n"
        "- **Label comments** (admin): set the true emotion of comments.\n"
        "- **Statistics**: accuracy, confusion matrix, per-class scores, calibration and curves.",
        "ko": "- **텍스트 업로드**: 코멘트를 보내고 예측 결과가 나오는 것을 확인합니다.\n"
        "- **코멘트 라벨**(관리자): 코멘트의 실제 감정을 지정합니다.\n"
        "- **결과 통계**: 정확도, 혼동 행렬, 클래스별 점수, 보정과 곡선을 봅니다.",
    },
    "home_flow": {"en": "How data flows", "ko": "데이터 흐름"},
    "flow_user": {"en": "Person", "ko": "사용자"},
    "flow_ui": {"en": "Web app (Streamlit)", "ko": "웹 앱 (Streamlit)"},
    "flow_api": {"en": "API (FastAPI)", "ko": "API (FastAPI)"},
    "flow_db": {"en": "Database\\n(SQLite | MariaDB)", "ko": "데이터베이스\\n(SQLite | MariaDB)"},
    "flow_predict": {"en": "Predict job\\n(DistilRoBERTa)", "ko": "예측 작업\\n(DistilRoBERTa)"},
    "flow_log": {"en": "Prediction log\\n(JSONL)", "ko": "예측 로그\\n(JSONL)"},
    "flow_apply": {"en": "Apply job\\n(SQLAlchemy | Spark)", "ko": "반영 작업\\n(SQLAlchemy | Spark)"},
    "flow_admin": {"en": "Admin", "ko": "관리자"},
    "flow_scheduler": {"en": "Worker or Airflow", "ko": "워커 또는 Airflow"},
    "flow_edge_submit": {"en": "comment", "ko": "코멘트"},
    "flow_edge_http": {"en": "HTTP", "ko": "HTTP"},
    "flow_edge_store": {"en": "store", "ko": "저장"},
    "flow_edge_pending": {"en": "pending", "ko": "대기 중"},
    "flow_edge_write": {"en": "write", "ko": "기록"},
    "flow_edge_read": {"en": "read", "ko": "읽기"},
    "flow_edge_update": {"en": "predictions", "ko": "예측 반영"},
    "flow_edge_label": {"en": "labels", "ko": "라벨"},
    "flow_edge_runs": {"en": "runs", "ko": "실행"},
    "pipeline_title": {"en": "Pipeline status", "ko": "파이프라인 상태"},
    "pipeline_pending": {"en": "Waiting for a prediction", "ko": "예측 대기"},
    "pipeline_unapplied": {"en": "Logs not applied yet", "ko": "미반영 로그"},
    "pipeline_quarantined": {"en": "Quarantined log lines", "ko": "격리된 로그 줄"},
    "pipeline_last_predict": {"en": "Last prediction run", "ko": "마지막 예측 실행"},
    "pipeline_last_apply": {"en": "Last apply run", "ko": "마지막 반영 실행"},
    "pipeline_never": {"en": "No run yet.", "ko": "아직 실행되지 않았습니다."},
    "pipeline_refresh": {"en": "Refreshes every {seconds} s.", "ko": "{seconds}초마다 새로고침합니다."},
    "run_run_id": {"en": "Run", "ko": "실행 ID"},
    "run_kind": {"en": "Kind", "ko": "종류"},
    "run_created_at": {"en": "Started", "ko": "시작"},
    "run_records": {"en": "Comments predicted", "ko": "예측한 코멘트"},
    "run_predict_seconds": {"en": "Prediction seconds", "ko": "예측 시간(초)"},
    "run_model_version": {"en": "Model", "ko": "모델"},
    "run_applied_at": {"en": "Applied", "ko": "반영 시각"},
    "run_applied_rows": {"en": "Rows updated", "ko": "갱신된 행"},
    "run_unknown_nums": {"en": "Unknown comments", "ko": "알 수 없는 코멘트"},
    "run_quarantined": {"en": "Quarantined lines", "ko": "격리된 줄"},
    "run_apply_seconds": {"en": "Apply seconds", "ko": "반영 시간(초)"},
    "run_engine": {"en": "Engine", "ko": "엔진"},
    # Upload
    "upload_title": {"en": "Upload text", "ko": "텍스트 업로드"},
    "upload_intro": {
        "en": "Type your name and a comment; its emotion is predicted within a few seconds.",
        "ko": "이름과 코멘트를 입력하세요. 몇 초 안에 감정이 예측됩니다.",
    },
    "username": {"en": "Username", "ko": "사용자 이름"},
    "username_placeholder": {"en": "e.g. minji", "ko": "예: minji"},
    "comment": {"en": "Comment", "ko": "코멘트"},
    "comment_placeholder": {"en": "How do you feel today?", "ko": "오늘 기분이 어떤가요?"},
    "upload_limits": {
        "en": "Username: 1 to {user_limit} characters, no control characters. "
        "Comment: 1 to {comment_limit} characters, not only spaces.",
        "ko": "사용자 이름: 1자 이상 {user_limit}자 이하, 제어 문자 불가. "
        "코멘트: 1자 이상 {comment_limit}자 이하, 공백만은 불가.",
    },
    "err_user_missing": {"en": "Enter a username.", "ko": "사용자 이름을 입력하세요."},
    "err_user_too_long": {
        "en": "The username has {length} characters; at most {limit} are allowed.",
        "ko": "사용자 이름이 {length}자입니다. 최대 {limit}자까지 가능합니다.",
    },
    "err_user_control": {
        "en": "The username contains control characters (such as tabs or line breaks); remove them.",
        "ko": "사용자 이름에 제어 문자(탭, 줄바꿈 등)가 있습니다. 지워 주세요.",
    },
    "err_user_invisible": {
        "en": "The username contains invisible or unassigned characters (such as bidi controls or "
        "zero-width spaces); remove them.",
        "ko": "사용자 이름에 보이지 않거나 할당되지 않은 문자(양방향 제어, 폭 없는 공백 등)가 있습니다. "
        "지워 주세요.",
    },
    "err_comment_missing": {"en": "Enter a comment.", "ko": "코멘트를 입력하세요."},
    "err_comment_too_long": {
        "en": "The comment has {length} characters; at most {limit} are allowed.",
        "ko": "코멘트가 {length}자입니다. 최대 {limit}자까지 가능합니다.",
    },
    "err_comment_control": {
        "en": "The comment contains control characters other than tabs and line breaks; remove them.",
        "ko": "코멘트에 탭과 줄바꿈 외의 제어 문자가 있습니다. 지워 주세요.",
    },
    "err_remark_control": {
        "en": "The remark contains control characters other than tabs and line breaks; remove them.",
        "ko": "메모에 탭과 줄바꿈 외의 제어 문자가 있습니다. 지워 주세요.",
    },
    "err_remark_too_long": {
        "en": "The remark has {length} characters; at most {limit} are allowed.",
        "ko": "메모가 {length}자입니다. 최대 {limit}자까지 가능합니다.",
    },
    "upload_received": {"en": "Comment #{num} received", "ko": "코멘트 #{num} 접수됨"},
    "upload_waiting": {
        "en": "Waiting for the prediction… this page checks every few seconds.",
        "ko": "예측을 기다리는 중… 이 페이지가 몇 초마다 확인합니다.",
    },
    "upload_missing": {
        "en": "This comment is no longer in the database.",
        "ko": "이 코멘트는 더 이상 데이터베이스에 없습니다.",
    },
    "upload_score": {"en": "Confidence {score}", "ko": "확신도 {score}"},
    "upload_pending": {"en": "⏳ waiting", "ko": "⏳ 대기 중"},
    "upload_recent": {"en": "Your recent comments ({user})", "ko": "최근 코멘트 ({user})"},
    "upload_recent_empty": {
        "en": "Nothing sent under this name from this browser session yet.",
        "ko": "이 브라우저 세션에서 이 이름으로 보낸 코멘트가 아직 없습니다.",
    },
    "col_user": {"en": "User", "ko": "사용자"},
    "col_time": {"en": "Sent", "ko": "보낸 시각"},
    "col_comment": {"en": "Comment", "ko": "코멘트"},
    "col_prediction": {"en": "Prediction", "ko": "예측"},
    "col_score": {"en": "Score", "ko": "점수"},
    "col_label": {"en": "True label", "ko": "실제 라벨"},
    "col_remark": {"en": "Remark", "ko": "메모"},
    "col_changed_at": {"en": "When", "ko": "시각"},
    "col_action": {"en": "Action", "ko": "작업"},
    "col_changed_by": {"en": "By", "ko": "변경자"},
    "col_old_label": {"en": "Old label", "ko": "이전 라벨"},
    "col_new_label": {"en": "New label", "ko": "새 라벨"},
    "col_old_remark": {"en": "Old remark", "ko": "이전 메모"},
    "col_new_remark": {"en": "New remark", "ko": "새 메모"},
    # Label
    "label_title": {"en": "Label comments", "ko": "코멘트 라벨"},
    "login_needed": {
        "en": "This page is for annotators and admins. Log in with your username and password "
        "(`threekcal users add` creates accounts; `threekcal up` prints the first admin's password).",
        "ko": "라벨러와 관리자 전용 페이지입니다. 사용자 이름과 비밀번호로 로그인하세요"
        "(`threekcal users add`로 계정을 만들고, `threekcal up`이 첫 관리자 비밀번호를 출력합니다).",
    },
    "password": {"en": "Password", "ko": "비밀번호"},
    "password_help": {
        "en": "Sent once to sign in, never stored. Reloading the page signs you out.",
        "ko": "로그인할 때 한 번만 보내며 저장하지 않습니다. 페이지를 새로고침하면 로그아웃됩니다.",
    },
    "label_conflict": {
        "en": "Comment #{num} was changed by {user} while you edited it: their label is {theirs} "
        "(remark: {their_remark}). Yours, {mine}, was not saved.",
        "ko": "편집하는 동안 {user}님이 코멘트 #{num}을(를) 바꿨습니다: 라벨 {theirs} "
        "(메모: {their_remark}). 내 라벨 {mine}은(는) 저장되지 않았습니다.",
    },
    "label_reapply": {"en": "Re-apply mine", "ko": "내 라벨 다시 적용"},
    "label_keep_theirs": {"en": "Keep theirs", "ko": "상대 라벨 유지"},
    "login": {"en": "Log in", "ko": "로그인"},
    "logout": {"en": "Log out", "ko": "로그아웃"},
    "login_missing": {
        "en": "Enter your username and password.",
        "ko": "사용자 이름과 비밀번호를 입력하세요.",
    },
    "stats_leave_out_bulk": {
        "en": "Leave bulk-accepted labels out ({count} of them)",
        "ko": "일괄 수락한 라벨 제외 ({count}개)",
    },
    "stats_users_admin_only": {
        "en": "Figures per user are for admins: log in as an admin on the Label page to see them.",
        "ko": "사용자별 통계는 관리자만 볼 수 있습니다. 라벨 페이지에서 관리자로 로그인하세요.",
    },
    "stats_leave_out_bulk_help": {
        "en": "Bulk-accepted labels are the model's own predictions: counting them as truth flatters it.",
        "ko": "일괄 수락한 라벨은 모델 자신의 예측이므로 정답으로 세면 정확도가 부풀려집니다.",
    },
    "filter_user": {"en": "User", "ko": "사용자"},
    "filter_status": {"en": "Status", "ko": "상태"},
    "status_all": {"en": "All", "ko": "전체"},
    "status_unlabeled": {"en": "Unlabelled", "ko": "라벨 없음"},
    "status_labeled": {"en": "Labelled", "ko": "라벨 있음"},
    "filter_predicted": {"en": "Predicted label", "ko": "예측 라벨"},
    "filter_true": {"en": "True label", "ko": "실제 라벨"},
    "filter_score": {"en": "Score range", "ko": "점수 범위"},
    "filter_text": {"en": "Text contains", "ko": "텍스트 검색"},
    "filter_text_placeholder": {"en": "word or phrase", "ko": "단어 또는 문구"},
    "sort": {"en": "Order", "ko": "정렬"},
    "sort_least_confident": {"en": "Least confident first", "ko": "낮은 확신도 순"},
    "sort_newest": {"en": "Newest first", "ko": "최신 순"},
    "sort_oldest": {"en": "Oldest first", "ko": "오래된 순"},
    "page_size": {"en": "Rows", "ko": "행 수"},
    "page_previous": {"en": "Previous", "ko": "이전"},
    "page_next": {"en": "Next", "ko": "다음"},
    "page_position": {
        "en": "Page {page} · {shown} rows shown · {total} match",
        "ko": "{page} 페이지 · {shown}행 표시 · 총 {total}건",
    },
    "page_empty": {"en": "No rows on this page.", "ko": "이 페이지에 행이 없습니다."},
    "label_no_match": {
        "en": "No comment matches these filters.",
        "ko": "조건에 맞는 코멘트가 없습니다.",
    },
    "label_selected": {"en": "Selected comments", "ko": "선택한 코멘트"},
    "label_select_hint": {
        "en": "Pick comment numbers here (a click on a row only opens it below)",
        "ko": "여기서 코멘트 번호를 고르세요(표의 행을 누르면 아래 편집기에서 열리기만 합니다)",
    },
    "label_accept": {"en": "Accept prediction ({count})", "ko": "예측 수락 ({count})"},
    "label_accepted": {
        "en": "Accepted the prediction of {accepted} comments ({skipped} skipped: no prediction).",
        "ko": "코멘트 {accepted}개의 예측을 수락했습니다(예측이 없어 건너뜀: {skipped}개).",
    },
    "label_undo": {"en": "Undo last change", "ko": "마지막 변경 취소"},
    "label_undone": {
        "en": "Undone: comment #{num} is back to {label}.",
        "ko": "취소됨: 코멘트 #{num}이(가) {label}(으)로 돌아갔습니다.",
    },
    "label_nothing_to_undo": {"en": "There is no change to undo.", "ko": "취소할 변경이 없습니다."},
    "label_editor": {"en": "Set the true label", "ko": "실제 라벨 지정"},
    "label_comment": {"en": "Comment", "ko": "코멘트"},
    "label_prediction_is": {
        "en": "Prediction: **{label}** ({score}, model {model})",
        "ko": "예측: **{label}** ({score}, 모델 {model})",
    },
    "label_no_prediction": {"en": "Not predicted yet.", "ko": "아직 예측되지 않았습니다."},
    "label_true": {"en": "True label", "ko": "실제 라벨"},
    "label_remark": {"en": "Remark", "ko": "메모"},
    "label_saved": {
        "en": "Saved: comment #{num} is {label}.",
        "ko": "저장됨: 코멘트 #{num}은(는) {label}입니다.",
    },
    "label_labeled_by": {"en": "Labelled by {user} at {time}", "ko": "{user}이(가) {time}에 라벨 지정"},
    "label_history": {"en": "History of comment #{num}", "ko": "코멘트 #{num}의 변경 이력"},
    "label_history_empty": {"en": "No label change yet.", "ko": "아직 라벨 변경이 없습니다."},
    "action_set": {"en": "set", "ko": "지정"},
    "action_accept": {"en": "accepted prediction", "ko": "예측 수락"},
    "action_undo": {"en": "undo", "ko": "취소"},
    # Statistics
    "stats_title": {"en": "Statistics", "ko": "결과 통계"},
    "stats_user": {"en": "Only this user", "ko": "이 사용자만"},
    "auto_refresh": {"en": "Refresh every {seconds} s", "ko": "{seconds}초마다 새로고침"},
    "count_total": {"en": "Comments", "ko": "코멘트"},
    "count_pending": {"en": "Waiting", "ko": "예측 대기"},
    "count_predicted": {"en": "Predicted", "ko": "예측됨"},
    "count_labeled": {"en": "Labelled", "ko": "라벨 있음"},
    "count_labeled_and_predicted": {"en": "Labelled and predicted", "ko": "라벨·예측 모두 있음"},
    "accuracy": {"en": "Accuracy", "ko": "정확도"},
    "stats_empty": {
        "en": "No comments yet. Send one on the Upload page.",
        "ko": "아직 코멘트가 없습니다. 텍스트 업로드 페이지에서 보내 보세요.",
    },
    "stats_no_labels": {
        "en": "No labelled comment has a prediction yet, so accuracy cannot be measured. "
        "Label some on the Label page.",
        "ko": "예측과 라벨이 모두 있는 코멘트가 아직 없어 정확도를 잴 수 없습니다. "
        "코멘트 라벨 페이지에서 라벨을 지정하세요.",
    },
    "stats_one_class": {
        "en": "Every labelled comment has the same true label: ROC and precision-recall curves need at "
        "least two different true labels.",
        "ko": "라벨이 있는 코멘트가 모두 같은 실제 라벨입니다. ROC와 정밀도-재현율 곡선에는 "
        "서로 다른 실제 라벨이 두 개 이상 필요합니다.",
    },
    "stats_no_predictions": {"en": "No prediction yet.", "ko": "아직 예측이 없습니다."},
    "stats_generated": {"en": "Computed at {time}.", "ko": "{time}에 계산됨."},
    "tab_quality": {"en": "Accuracy & confusion", "ko": "정확도·혼동 행렬"},
    "tab_per_class": {"en": "Per class", "ko": "클래스별"},
    "tab_one_vs_rest": {"en": "One vs rest", "ko": "일대다"},
    "tab_calibration": {"en": "Calibration", "ko": "보정"},
    "tab_curves": {"en": "ROC & PR curves", "ko": "ROC·PR 곡선"},
    "tab_scores": {"en": "Scores", "ko": "점수 분포"},
    "tab_time": {"en": "Over time", "ko": "시간별"},
    "tab_users": {"en": "Users", "ko": "사용자별"},
    "overall": {"en": "overall", "ko": "전체"},
    "true_label": {"en": "True label", "ko": "실제 라벨"},
    "predicted_label": {"en": "Predicted label", "ko": "예측 라벨"},
    "chart_accuracy_by_label": {"en": "Accuracy per true label", "ko": "실제 라벨별 정확도"},
    "chart_confusion_counts": {"en": "Confusion matrix (counts)", "ko": "혼동 행렬 (건수)"},
    "chart_confusion_normalised": {
        "en": "Confusion matrix (share of each true label)",
        "ko": "혼동 행렬 (실제 라벨별 비율)",
    },
    "confusion_hover": {"en": "true %{y}<br>predicted %{x}<br>%{z}", "ko": "실제 %{y}<br>예측 %{x}<br>%{z}"},
    "confusion_normalise": {
        "en": "Share of each true label (row-normalised)",
        "ko": "실제 라벨별 비율(행 정규화)",
    },
    "confusion_numbers": {"en": "Numbers", "ko": "숫자로 보기"},
    "precision": {"en": "Precision", "ko": "정밀도"},
    "recall": {"en": "Recall", "ko": "재현율"},
    "f1": {"en": "F1", "ko": "F1"},
    "support": {"en": "Support", "ko": "표본 수"},
    "macro_avg": {"en": "macro average", "ko": "매크로 평균"},
    "weighted_avg": {"en": "weighted average", "ko": "가중 평균"},
    "chart_per_class": {"en": "Precision, recall and F1 per class", "ko": "클래스별 정밀도·재현율·F1"},
    "ovr_pick": {"en": "Emotion", "ko": "감정"},
    "rest": {"en": "all others", "ko": "나머지"},
    "chart_one_vs_rest": {"en": "{emotion} against all others", "ko": "{emotion} 대 나머지"},
    "tp": {"en": "True positives", "ko": "참 양성"},
    "fp": {"en": "False positives", "ko": "거짓 양성"},
    "fn": {"en": "False negatives", "ko": "거짓 음성"},
    "tn": {"en": "True negatives", "ko": "참 음성"},
    "score": {"en": "Score", "ko": "점수"},
    "density": {"en": "Density", "ko": "밀도"},
    "comments_count": {"en": "Comments", "ko": "코멘트 수"},
    "chart_score_histogram": {"en": "Score per predicted label", "ko": "예측 라벨별 점수 분포"},
    "chart_score_density": {"en": "Score density per predicted label", "ko": "예측 라벨별 점수 밀도"},
    "ece": {"en": "Expected calibration error", "ko": "기대 보정 오차(ECE)"},
    "ece_help": {
        "en": "Average gap between confidence and accuracy over 10 confidence bins, weighted by comments.",
        "ko": "10개 확신도 구간에서 확신도와 정확도의 차이를 코멘트 수로 가중 평균한 값입니다.",
    },
    "chart_reliability": {"en": "Reliability diagram", "ko": "신뢰도 다이어그램"},
    "perfect_calibration": {"en": "perfectly calibrated", "ko": "완벽한 보정"},
    "confidence": {"en": "Confidence (top score)", "ko": "확신도(최고 점수)"},
    "reliability_hover": {
        "en": "confidence %{x:.2f}<br>accuracy %{y:.2f}<br>%{customdata} comments",
        "ko": "확신도 %{x:.2f}<br>정확도 %{y:.2f}<br>코멘트 %{customdata}개",
    },
    "chart_roc": {"en": "ROC curve per emotion (one vs rest)", "ko": "감정별 ROC 곡선(일대다)"},
    "chart_pr": {"en": "Precision-recall curve per emotion", "ko": "감정별 정밀도-재현율 곡선"},
    "chance": {"en": "chance", "ko": "무작위"},
    "false_positive_rate": {"en": "False positive rate", "ko": "거짓 양성 비율"},
    "true_positive_rate": {"en": "True positive rate", "ko": "참 양성 비율"},
    "average_precision": {"en": "Average precision", "ko": "평균 정밀도"},
    "curves_note": {
        "en": "Computed from every class probability stored with each prediction, at thresholds 0.02 apart.",
        "ko": "각 예측과 함께 저장된 모든 클래스 확률로 0.02 간격의 임계값에서 계산했습니다.",
    },
    "chart_volume": {"en": "Comments per day", "ko": "일별 코멘트 수"},
    "chart_mix": {"en": "Predicted emotions per day", "ko": "일별 예측 감정 비율"},
    "day": {"en": "Day", "ko": "날짜"},
    "share": {"en": "Share", "ko": "비율"},
    "correct": {"en": "Correct", "ko": "정답"},
    # the n of the accuracy beside it: labelled comments that also have a prediction to score
    "scored_n": {"en": "n (scored)", "ko": "n (채점)"},
}

STRINGS.update(MODEL_STRINGS)
STRINGS.update(STATS_STRINGS)
STRINGS.update(ANNOTATE_STRINGS)
STRINGS.update(TABLE_STRINGS)


def translate(key: str, lang: str, /, *, default: str | None = None, **params: Any) -> str:
    """The string ``key`` in ``lang`` (English when missing), placeholders filled from ``params``."""
    entry = STRINGS.get(key)
    if entry is None:
        if default is not None:
            return default
        raise KeyError(f"no text for {key!r}")
    text = entry.get(lang) or entry["en"]
    return text.format(**params) if params else text
