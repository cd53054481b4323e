"""Configuration from the environment (prefix ``THREEKCAL_``) or a ``.env`` file."""

from __future__ import annotations

import ipaddress
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from threekcal.emotions import DEFAULT_MODEL

MIN_ADMIN_TOKEN_LENGTH = 16
MIN_PRODUCTION_SECRET_LENGTH = 32  # tokens and secrets in production: at least this long, no whitespace
DEV_TOKEN_FILE = "admin-token"
DEV_SECRET_KEY_FILE = "secret-key"
MIN_SECRET_KEY_LENGTH = 32


class SettingsError(ValueError):
    """Configuration that ThreeKcal refuses to run with; the message says what to change."""


def weak_secret_problem(value: str, env: str) -> str | None:
    """What a token or secret lacks for ``env`` ("at least N characters without whitespace"), or None.
    Development accepts anything (it generates its own); production wants 32 characters."""
    if env == "development":
        return None
    minimum = MIN_PRODUCTION_SECRET_LENGTH if env == "production" else MIN_ADMIN_TOKEN_LENGTH
    if len(value) < minimum or any(char.isspace() for char in value):
        return f"at least {minimum} characters without whitespace"
    return None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="THREEKCAL_", env_file=".env", extra="ignore", validate_default=True
    )

    env: Literal["development", "production", "test"] = "development"
    database_url: str = "sqlite:///./var/threekcal.db"
    admin_token: SecretStr | None = None
    model: str = DEFAULT_MODEL
    # auto: the faster of ONNX int8/fp32 as measured here (or by CPU flags); torch fp16 on a GPU.
    backend: Literal["auto", "torch", "onnx", "onnx-fp32"] = "auto"
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto: CUDA when a GPU is present
    # auto on a CPU times ONNX int8 against fp32 once per model and machine (false: the CPU-flag rule);
    # int8 only when this much faster: less is within a shared machine's noise, not worth int8's accuracy.
    backend_measure: bool = True
    backend_int8_min_speedup: float = Field(default=1.15, ge=1.0, le=10.0)
    # and agreeing with fp32 on the top label of this share of the measured comments (int8 as a default
    # must keep fp32's answers: a random-weight model falls below, a fine-tuned one's margins pass)
    backend_int8_min_agreement: float = Field(default=0.99, ge=0.0, le=1.0)
    backend_measure_seconds: float = Field(default=2.0, gt=0, le=60)  # timed rounds after the warm-up
    # ONNX Runtime's threads spin between operators: a little faster on an idle machine, but on a shared one
    # they burn the CPU the other work needs (int8 ran at half the speed with it at load average 5).
    onnx_spinning: bool = False
    torch_threads: int | None = Field(default=None, ge=1, le=256)
    batch_size: int = Field(default=32, ge=1, le=1024)
    gpu_batch_size: int = Field(default=128, ge=1, le=4096)  # a GPU wants bigger batches than a CPU
    # Spark: the master for `apply/predict --engine spark` and save_db's default; the address the
    # driver advertises to executors on other hosts; where Spark reads the logs if not the local path.
    spark_master: str = "local[2]"
    spark_driver_host: str | None = None
    spark_log_uri: str | None = None
    spark_connect_timeout: float = Field(default=5.0, gt=0, le=25)
    spark_task_threads: int = Field(default=1, ge=1, le=64)  # model threads per Spark task (1 per core)
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
    # auto: bf16 mixed precision where the CPU has AMX bf16 units (bench/train.py: 2.06x fp32 there),
    # fp32 elsewhere (avx512_bf16 without AMX measured 0.78x fp32)
    train_precision: Literal["auto", "fp32", "bf16"] = "auto"
    eval_share: float = Field(default=0.2, gt=0, lt=1)  # held-out share of labelled comments (by num hash)
    significance_level: float = Field(default=0.05, gt=0, lt=1)  # McNemar verdict and drift tests
    job_stale_seconds: float = Field(default=900.0, gt=0)  # a running job silent this long has died
    drift_reference_days: int = Field(default=7, ge=1, le=365)
    drift_js_threshold: float = Field(default=0.1, gt=0, le=1)
    # Bounded waits: every database wait (connect, read, write, statement, lock, pool) ends within this.
    db_timeout: float = Field(default=5.0, gt=0, le=3600)
    # Throttling (the `limits` library's syntax, e.g. "30/minute"); storage memory:// or redis://HOST:PORT
    rate_limit_storage: str = "memory://"
    rate_limit_prefix: str = Field(default="threekcal", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    submit_rate_limit: str = "30/minute"
    submit_ip_rate_limit: str = "300/minute"
    auth_failure_rate_limit: str = "20/minute"
    # comma-separated addresses or networks of reverse proxies whose X-Forwarded-For is believed
    trusted_proxies: str = ""
    stats_max_staleness: float = Field(default=2.0, ge=0, le=3600)
    idempotency_ttl_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    public_docs: bool | None = None  # default: on, except in production
    # Accounts: the key that signs login tokens (HS256), their lifetime, login throttling
    secret_key: SecretStr | None = None
    access_token_minutes: int = Field(default=12 * 60, ge=1, le=60 * 24 * 30)
    login_rate_limit: str = "5/minute;30/hour"  # attempts per username
    login_ip_rate_limit: str = "20/minute"  # attempts per client address
    # Several annotators per comment: judgements needed (and agreeing) before a comment gets its label
    labels_per_comment: int = Field(default=1, ge=1, le=10)
    # agreement statistics: Cohen's kappa for a pair of annotators needs this many comments in common
    kappa_min_common: int = Field(default=20, ge=2, le=100_000)
    # Bulk work in bounded memory (issue 12): rows per chunk (and per transaction) of the apply of a
    # prediction log and of the backfill, and of `threekcal import` (whose larger chunks commit the
    # aggregate tables' pages half as often: ten million rows on SQLite 7% faster, for about 65 MiB more)
    chunk_rows: int = Field(default=50_000, ge=1, le=1_000_000)
    import_chunk_rows: int = Field(default=100_000, ge=1, le=1_000_000)
    export_chunk_rows: int = Field(default=1000, ge=1, le=100_000)  # rows per query of an export
    # SQLite page cache of `threekcal import` (MiB): its indexes' pages stay in memory instead of being
    # read again for every chunk (the default 2 MiB makes an import slower and slower as the table grows)
    import_sqlite_cache_mib: int = Field(default=64, ge=2, le=4096)
    # SQLite: an import of at least this many comments, and at least as many as the table holds, stores
    # them with the secondary indexes set aside and builds those again at its end (db/deferred_indexes.py);
    # "always" / "never" decide regardless of the sizes
    import_defer_indexes: Literal["auto", "always", "never"] = "auto"
    import_defer_indexes_min_rows: int = Field(default=100_000, ge=0)

    @field_validator(
        "submit_rate_limit",
        "submit_ip_rate_limit",
        "auth_failure_rate_limit",
        "login_rate_limit",
        "login_ip_rate_limit",
    )
    @classmethod
    def _rate_limit_syntax(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate limit such as 30/minute") from None
        return value

    @field_validator("rate_limit_storage")
    @classmethod
    def _known_storage(cls, value: str) -> str:
        if not value.startswith(("memory://", "redis://", "rediss://", "redis+unix://")):
            raise ValueError("must be memory:// or a redis:// URL")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        for part in filter(None, (item.strip() for item in value.split(","))):
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise ValueError(f"{part!r} is not an IP address or network") from None
        return value

    def trusted_proxy_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        parts = (item.strip() for item in self.trusted_proxies.split(","))
        return [ipaddress.ip_network(part, strict=False) for part in parts if part]

    def docs_enabled(self) -> bool:
        return self.public_docs if self.public_docs is not None else self.env != "production"

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "mysql", "mariadb")):
            raise ValueError("must be a sqlite:/// or mysql+pymysql:// SQLAlchemy URL")
        return value

    @model_validator(mode="after")
    def _admin_token_is_safe(self) -> Settings:
        token = self.admin_token.get_secret_value() if self.admin_token else ""
        problem = weak_secret_problem(token, self.env)
        if problem:
            raise SettingsError(
                f"THREEKCAL_ADMIN_TOKEN must be set to {problem} when THREEKCAL_ENV={self.env}; generate one "
                "with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return self

    @model_validator(mode="after")
    def _secret_key_is_safe(self) -> Settings:
        if self.secret_key is None and self.env != "production":
            return self  # development keeps one in var/, tests get one per process (secret_key_value)
        key = self.secret_key.get_secret_value() if self.secret_key else ""
        if len(key) < MIN_SECRET_KEY_LENGTH or any(char.isspace() for char in key):
            raise SettingsError(
                f"THREEKCAL_SECRET_KEY must be set to at least {MIN_SECRET_KEY_LENGTH} characters without "
                f"whitespace{' when THREEKCAL_ENV=production' if self.env == 'production' else ''} (it signs "
                "login tokens); generate one with: "
                "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        return self

    def secret_key_value(self) -> str:
        """The key that signs login tokens. Development generates one once and keeps it in
        ``var/secret-key`` (logins survive restarts); the test environment makes one per process."""
        if self.secret_key and len(self.secret_key.get_secret_value()) >= MIN_SECRET_KEY_LENGTH:
            return self.secret_key.get_secret_value()
        if self.env == "production":  # pragma: no cover - the validator refuses this first
            raise SettingsError("THREEKCAL_SECRET_KEY is missing")
        if self.env == "test":
            key = _process_test_key()
        else:
            key = _kept_secret(self.var_dir / DEV_SECRET_KEY_FILE, 48)
        self.secret_key = SecretStr(key)
        return key

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
def _process_test_key() -> str:
    return secrets.token_urlsafe(48)


def _kept_secret(path: Path, nbytes: int) -> str:
    """A secret kept in ``path`` (mode 0600), generated on first use."""
    if path.exists():
        value = path.read_text().strip()
        if len(value) >= MIN_SECRET_KEY_LENGTH:
            return value
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(nbytes)
    path.touch(mode=0o600)
    path.write_text(value + "\n")
    return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
