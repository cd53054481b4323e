"""Disagreements (admins): comments whose annotators disagree, each person's judgement, and the admin's
decision; below, how well the annotators agree (Cohen's kappa per pair, Krippendorff's alpha)."""

from typing import Any

import pandas as pd
import streamlit as st

from threekcal.ui import view
from threekcal.ui.client import ApiClient
from threekcal.ui.logic import LABELS, emotion_text, escape_markdown, format_time, quote_markdown
from threekcal.ui.view import t


def resolve(num: int) -> None:
    label = st.session_state.get(f"resolve_label_{num}")
    if not label:
        view.flash("error", t("resolve_pick"))
        return

    def decide(api: ApiClient) -> dict[str, Any]:
        return api.resolve(num, label)

    decided = view.run_action(decide, admin=True)
    if decided is not None:
        view.flash("success", t("resolved", num=num, label=emotion_text(label, view.current_lang())))


def disagreement(item: dict[str, Any], lang: str) -> None:
    num = item["num"]
    with st.container(border=True):
        st.markdown(
            f"**#{num}** · "
            + t("label_prediction_short", label=emotion_text(item.get("prediction_result"), lang) or "—")
        )
        st.markdown(quote_markdown(item["comments"]))
        for judgement in item["judgements"]:
            st.markdown(
                f"- **{escape_markdown(judgement['username'])}**: {emotion_text(judgement['label'], lang)}"
                f" · {format_time(judgement.get('judged_at'))}"
                + (f" — {escape_markdown(judgement['remark'])}" if judgement.get("remark") else "")
            )
        choice, button = st.columns([3, 1], vertical_alignment="bottom")
        choice.selectbox(
            t("resolve_label"), ["", *LABELS], format_func=lambda label: emotion_text(label, lang) or "—",
            key=f"resolve_label_{num}",
        )  # fmt: skip
        button.button(
            t("resolve"), on_click=resolve, args=(num,), key=f"resolve_{num}", icon=":material/gavel:"
        )


def agreement(lang: str) -> None:
    result = view.fetch(lambda api: api.agreement(), key="agreement", admin=True)
    if result is None:
        return
    st.subheader(t("agreement_title"))
    alpha = result.get("krippendorff_alpha")
    st.metric("Krippendorff's alpha", "—" if alpha is None else f"{alpha:.3f}")
    pairs = [
        {"annotators": " / ".join(pair["annotators"]), "common": pair["common"], "kappa": pair["kappa"]}
        for pair in result.get("pairs") or []
    ]
    if pairs:
        st.dataframe(pd.DataFrame(pairs), hide_index=True, width="stretch")
    else:
        st.caption(t("agreement_no_pairs", count=result.get("min_common", 0)))
    annotators = [
        {key: row[key] for key in ("username", "judgements", "with_final_label", "agreement_with_final")}
        for row in result.get("annotators") or []
    ]
    if annotators:
        st.dataframe(pd.DataFrame(annotators), hide_index=True, width="stretch")


st.title(t("disagreements_title"))
view.show_flashes()
if not view.is_admin():
    st.info(t("disagreements_admins_only"))
else:
    lang = view.current_lang()
    items = view.fetch(lambda api: api.disagreements(), key="disagreements", admin=True)
    if items is not None:
        if not items:
            st.success(t("disagreements_none"))
        for item in items:
            disagreement(item, lang)
    agreement(lang)
