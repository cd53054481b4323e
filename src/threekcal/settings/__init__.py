"""Configuration from the environment (prefix ``THREEKCAL_``) or a ``.env`` file."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from threekcal.emotions import DEFAULT_MODEL

MIN_ADMIN_TOKEN_LENGTH = 16
DEV_TOKEN_FILE = "admin-token"


class SettingsError(ValueError):
    """Configuration that ThreeKcal refuses to run with; the message says what to change."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="THREEKCAL_", env_file=".env", extra="ignore", validate_default=True
    )

    env: Literal["development", "production", "test"] = "development"
    database_url: str = "sqlite:///./var/threekcal.db"
    admin_token: SecretStr | None = None
    model: str = DEFAULT_MODEL
    backend: Literal["torch", "onnx", "onnx-fp32"] = "torch"
    torch_threads: int | None = Field(default=None, ge=1, le=256)
    batch_size: int = Field(default=32, ge=1, le=1024)
    var_dir: Path = Path("./var")  # local state: the development admin token, test models
    log_dir: Path = Path("./var/logs")
    cache_dir: Path = Path("./var/cache")
    api_url: str = "http://127.0.0.1:8000"
    lang: Literal["en", "ko"] = "en"
    worker_interval: float = Field(default=2.0, gt=0, le=86_400)
    predict_schedule: str = "*/3 * * * *"
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # The training loop (issue 11): registry, fine-tuning, held-out comparison, drift.
    model_dir: Path = Path("./var/models")  # where trained versions are written
    train_min_labels: int = Field(default=50, ge=1)
    retrain_min_new_labels: int = Field(default=200, ge=0)
    retrain_schedule: str = "@weekly"  # the retrain_emotion DAG; empty: manual runs only
    train_epochs: float = Field(default=3.0, gt=0, le=100)
    train_learning_rate: float = Field(default=5e-5, gt=0, le=1)
    train_batch_size: int = Field(default=16, ge=1, le=1024)
    train_max_length: int = Field(default=128, ge=8, le=512)
    train_seed: int = 42
    train_dropout: float | None = Field(default=None, ge=0, lt=1)  # None: keep the model's own dropout
    eval_share: float = Field(default=0.2, gt=0, lt=1)  # held-out share of labelled comments (by num hash)
    significance_level: float = Field(default=0.05, gt=0, lt=1)  # McNemar verdict and drift tests
    job_stale_seconds: float = Field(default=900.0, gt=0)  # a running job silent this long has died
    drift_reference_days: int = Field(default=7, ge=1, le=365)
    drift_js_threshold: float = Field(default=0.1, gt=0, le=1)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "mysql", "mariadb")):
            raise ValueError("must be a sqlite:/// or mysql+pymysql:// SQLAlchemy URL")
        return value

    @model_validator(mode="after")
    def _admin_token_is_safe(self) -> Settings:
        token = self.admin_token.get_secret_value() if self.admin_token else ""
        if self.env != "development" and len(token) < MIN_ADMIN_TOKEN_LENGTH:
            raise SettingsError(
                f"THREEKCAL_ADMIN_TOKEN must be set to at least {MIN_ADMIN_TOKEN_LENGTH} characters "
                f"when THREEKCAL_ENV={self.env}; generate one with: "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return self

    def admin_token_value(self) -> str:
        """The admin token; in development one is generated once and kept in ``var/admin-token``."""
        if self.admin_token and len(self.admin_token.get_secret_value()) >= MIN_ADMIN_TOKEN_LENGTH:
            return self.admin_token.get_secret_value()
        if self.env != "development":  # pragma: no cover - the validator refuses this first
            raise SettingsError("THREEKCAL_ADMIN_TOKEN is missing")
        path = self.var_dir / DEV_TOKEN_FILE
        if path.exists():
            token = path.read_text().strip()
            if len(token) >= MIN_ADMIN_TOKEN_LENGTH:
                self.admin_token = SecretStr(token)
                return token
        path.parent.mkdir(parents=True, exist_ok=True)
        token = secrets.token_urlsafe(24)
        path.touch(mode=0o600)
        path.write_text(token + "\n")
        self.admin_token = SecretStr(token)
        return token


@lru_cache
def get_settings() -> Settings:
    return Settings()
