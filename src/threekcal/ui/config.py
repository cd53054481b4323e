"""What the web app needs from the environment: where the API is and which language to start in.

The web app never reads the admin token or the database from its environment, so it has its own small
settings class instead of :class:`threekcal.settings.Settings` (which refuses to load in production
without the admin token).
"""

from __future__ import annotations

from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from threekcal.settings import Settings

_DEFAULTS = Settings.model_fields

STREAMLIT_OPTIONS: dict[str, str] = {
    "server.headless": "true",
    "browser.gatherUsageStats": "false",
    "server.fileWatcherType": "none",
    # Viewers see no developer menu (Deploy, Rerun, Clear cache): they use the app, they do not edit it.
    "client.toolbarMode": "viewer",
}
"""Streamlit's options for the web app: flags of ``streamlit run`` (cli/server.py)."""


class UiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="THREEKCAL_", env_file=".env", extra="ignore")

    api_url: str = _DEFAULTS["api_url"].default
    lang: Literal["en", "ko"] = _DEFAULTS["lang"].default
    api_timeout: float = 10.0
    """Seconds the web app waits for one API answer before saying the API is unavailable."""


def ui_settings() -> UiSettings:
    """Read fresh on every call: cheap, and tests change the environment between runs."""
    return UiSettings()
