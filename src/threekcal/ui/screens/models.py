"""Models: registered versions and their held-out metrics side by side, a candidate against the active
model (per-emotion F1, confusion matrices, verdict), promotion and rollback (admin), the running job,
and the active model's drift."""

from __future__ import annotations

from typing import Any

import streamlit as st

from threekcal.ui import view
from threekcal.ui.charts.models import per_class_f1_figure, side_confusion_figure
from threekcal.ui.view import t

JOB_REFRESH_SECONDS = 5
SELECT_KEY = "models_selected"


def version_rows(versions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for version in versions:
        candidate = (version["metrics"].get("evaluation") or {}).get("candidate") or {}
        rows.append(
            {
                "id": version["id"],
                "status": version["status"],
                "model": version["source"].rstrip("/").rsplit("/", 1)[-1],
                "parent": version["parent_id"],
                "created": (version["created_at"] or "")[:16].replace("T", " "),
                "by": version["created_by"],
                "labels": version["training_data_size"],
                "accuracy": candidate.get("accuracy"),
                "macro-F1": candidate.get("macro_f1"),
                "ECE": candidate.get("ece"),
                "verdict": (version["metrics"].get("evaluation") or {}).get("verdict"),
            }
        )
    return rows


def comparison(version: dict[str, Any], lang: str) -> None:
    evaluation = version["metrics"].get("evaluation")
    if not evaluation:
        st.info(t("models_no_evaluation"))
        return
    test = evaluation["mcnemar"]
    st.markdown(
        t(
            "models_verdict",
            verdict=evaluation["verdict"],
            p=test["p_value"],
            only_candidate=test["only_candidate_right"],
            only_active=test["only_active_right"],
            n=evaluation["eval_size"],
        )
    )
    metrics = [
        {
            t("models_metric"): name,
            t("models_candidate", id=version["id"]): evaluation["candidate"][key],
            t("models_active", id=evaluation.get("active_version_id")): evaluation["active"][key],
        }
        for name, key in (("accuracy", "accuracy"), ("macro-F1", "macro_f1"), ("ECE", "ece"))
    ]
    st.dataframe(metrics, hide_index=True, width="stretch")
    st.plotly_chart(per_class_f1_figure(evaluation, version["id"], lang), width="stretch", key="models_f1")
    left, right = st.columns(2)
    for column, side, title in (
        (left, "candidate", t("models_candidate", id=version["id"])),
        (right, "active", t("models_active", id=evaluation.get("active_version_id"))),
    ):
        column.plotly_chart(
            side_confusion_figure(evaluation, side, title, lang),
            width="stretch",
            key=f"models_confusion_{side}",
        )


def promote(version_id: int) -> None:
    done = view.run_action(lambda api: api.promote(version_id), admin=True)
    if done is not None:
        view.flash("success", t("models_promoted", id=done["id"]))


def rollback() -> None:
    done = view.run_action(lambda api: api.rollback(), admin=True)
    if done is not None:
        view.flash("success", t("models_promoted", id=done["id"]))


def queue(kind: str) -> None:
    job = view.run_action(lambda api: api.train() if kind == "train" else api.rescore(), admin=True)
    if job is not None:
        view.flash("success", t("models_queued", id=job["id"]))


def admin_actions(selected: dict[str, Any] | None) -> None:
    if not view.is_admin():  # the API checks again (api/policy.py)
        st.caption(t("models_admin_only"))
        return
    promote_column, rollback_column, train_column, rescore_column = st.columns(4)
    if selected is not None and selected["status"] != "active":
        promote_column.button(
            t("models_promote", id=selected["id"]),
            on_click=promote,
            args=(selected["id"],),
            key="models_promote",
        )
    rollback_column.button(t("models_rollback"), on_click=rollback, key="models_rollback")
    train_column.button(t("models_train"), on_click=queue, args=("train",), key="models_train")
    rescore_column.button(t("models_rescore"), on_click=queue, args=("rescore",), key="models_rescore")


@st.fragment(run_every=JOB_REFRESH_SECONDS)
def jobs_panel(jobs: list[dict[str, Any]]) -> None:
    for job in jobs[:3]:
        if job["state"] in ("queued", "running"):
            job = (
                view.fetch(
                    lambda api, job_id=job["id"]: api.model_job(job_id), key=f"job_{job['id']}", admin=True
                )
                or job
            )
        label = t("models_job", id=job["id"], kind=job["kind"], state=job["state"])
        st.progress(float(job["progress"]), text=label)
        if job["log_tail"]:
            with st.expander(label):
                st.code(job["log_tail"][-2000:])


def drift_panel() -> None:
    report = view.fetch(lambda api: api.drift(), key="drift")
    if report is None:
        return
    st.subheader(t("models_drift"))
    days = report.get("days") or []
    if not days:
        st.info(t("models_drift_none", days=7))
        return
    flagged = report.get("flagged_days") or []
    if flagged:
        st.warning(t("models_drift_flagged", days=", ".join(flagged)))
    columns = ("day", "count", "flagged", "chi_square_p", "jensen_shannon", "ks_p")
    st.dataframe([{key: day.get(key) for key in columns} for day in days], hide_index=True, width="stretch")


lang = view.current_lang()
st.title(t("models_title"))
st.markdown(t("models_intro"))
view.show_flashes()
# versions and jobs (their authors, log tails) are for signed-in accounts; drift is public
registry = view.fetch(lambda api: api.models(), key="models", admin=True) if view.account() else None
if not view.account():
    st.info(t("models_login_needed"))
if registry is not None:
    versions = registry["versions"]
    if not versions:
        st.info(t("models_none", model=registry["configured_model"]))
    else:
        st.dataframe(version_rows(versions), hide_index=True, width="stretch")
        by_id = {version["id"]: version for version in versions}
        newest_first = sorted(by_id, reverse=True)
        chosen = st.selectbox(t("models_compare"), newest_first, key=SELECT_KEY)
        selected = by_id.get(chosen)
        admin_actions(selected)
        if selected is not None:
            comparison(selected, lang)
    if registry["jobs"]:
        jobs_panel(registry["jobs"])
drift_panel()
