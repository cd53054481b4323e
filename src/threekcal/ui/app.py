"""Entry file of the web app: page setup, the language switch and routing. Run with ``threekcal ui``."""

from pathlib import Path

import streamlit as st

from threekcal.ui.config import STREAMLIT_OPTIONS
from threekcal.ui.logic import set_display_timezone, use_timezone_source
from threekcal.ui.view import account_box, banner_slot, is_admin, language_switch, t

SCREENS_DIR = Path(__file__).with_name("screens")

# Also a flag of `threekcal ui`; set here too for `streamlit run app.py` (a client option may be set by the
# script): viewers get no developer menu.
st.set_option("client.toolbarMode", STREAMLIT_OPTIONS["client.toolbarMode"])
st.set_page_config(page_title="ThreeKcal", page_icon="😀", layout="wide")
language_switch()
account_box()
set_display_timezone(st.context.timezone)  # the browser's zone; None before the browser has said it
use_timezone_source(lambda: st.context.timezone)  # fragments' reruns too: one zone everywhere
home = SCREENS_DIR / "home.py"
page = st.navigation(
    [
        # The default page is served at "/" and its url_path is reserved, not served: "/home" is a
        # second, hidden page running the same script, so a link to /home never says "Page not found".
        st.Page(home, title=t("nav_home"), icon=":material/home:", url_path="start", default=True),
        st.Page(home, title=t("nav_home"), icon=":material/home:", url_path="home", visibility="hidden"),
        st.Page(
            SCREENS_DIR / "upload.py", title=t("nav_upload"), icon=":material/edit_note:", url_path="upload"
        ),
        st.Page(SCREENS_DIR / "label.py", title=t("nav_label"), icon=":material/label:", url_path="label"),
        st.Page(
            SCREENS_DIR / "annotate.py",
            title=t("nav_annotate"),
            icon=":material/keyboard:",
            url_path="annotate",
        ),
        st.Page(
            SCREENS_DIR / "statistics.py",
            title=t("nav_statistics"),
            icon=":material/monitoring:",
            url_path="statistics",
        ),
        st.Page(
            SCREENS_DIR / "models.py",
            title=t("nav_models"),
            icon=":material/model_training:",
            url_path="models",
        ),
        # the admin's decisions on disagreements between annotators: shown to admins only
        *(
            [
                st.Page(
                    SCREENS_DIR / "disagreements.py",
                    title=t("nav_disagreements"),
                    icon=":material/gavel:",
                    url_path="disagreements",
                )
            ]
            if is_admin()
            else []
        ),
    ]
)
banner_slot()
page.run()
