"""One validated settings object (environment variables prefixed BPBOT_, optional .env)."""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "change-this-secret"


class Settings(BaseSettings):
    """Everything that differs between a laptop, CI and production."""

    model_config = SettingsConfigDict(env_prefix="BPBOT_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = Field(
        "development", title="Where this runs; production refuses unsafe defaults")
    database_url: str = Field("sqlite:///bpbot.sqlite3", title="SQLAlchemy database URL")
    config_path: str = Field("config.yml", title="NLU pipeline config")
    domain_path: str = Field("domain.yml", title="Rasa domain")
    rules_path: str = Field("data/rules.yml", title="Rasa rules file or folder")
    routing_path: str = Field("routing", title="Routing table folder")
    buttons_path: str = Field("data/buttons.yml",
                              title="Words customers type instead of clicking buttons")
    models_path: str = Field("models", title="Folder of trained models (newest is used)")
    actions_package: str = Field("actions", title="Python package of rasa-sdk actions")
    action_endpoint: str | None = Field(
        None, title="URL of a rasa-sdk action server; unset: run actions in-process")
    retention_days: int = Field(365, ge=1, le=3650, title="Days conversations and enquiries "
                                "are kept before `bpbot purge` deletes them")
    privacy_notice_version: str = Field("2026-11", title="Version of the privacy notice shown")
    smtp_host: str = Field("127.0.0.1", title="SMTP server")
    smtp_port: int = Field(25, title="SMTP port")
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout_s: float = 10.0
    mail_from: str = Field("business-porvoo-bot@example.fi", title="Sender of notifications")
    webhook_secret: str = Field(DEFAULT_SECRET, title="HMAC key for signed webhooks")
    session_secret: str = Field(DEFAULT_SECRET, title="Key for staff session cookies")
    outbox_max_attempts: int = Field(8, ge=1, le=50, title="Delivery attempts before failed")
    outbox_backoff_s: float = Field(30.0, gt=0, title="First retry delay; doubles each time")
    outbox_interval_s: float = Field(
        5.0, ge=0, title="How often the server delivers the outbox; 0: not in the server")
    allowed_origins: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:5005", "http://localhost:5005"],
        title="Web sites (origins) allowed to embed the widget and call the chat API")
    rate_limit_per_minute: int = Field(60, ge=1, title="Chat messages per address per minute "
                                       "(shared by every process: counted in the database)")
    rate_limit_per_conversation: int = Field(30, ge=1, title="Messages per conversation per "
                                             "minute")
    trusted_proxies: list[str] = Field(
        default_factory=list, title="Addresses or networks (CIDR) of reverse proxies whose "
        "X-Forwarded-For is believed; none by default")
    max_request_bytes: int = Field(65536, ge=1024, title="Largest request body accepted")
    # One client never holds every parsing thread (bot/fair.py): a client flooding the NLU
    # with long messages leaves a thread to everyone else (bench/fairness.py). Parsing is
    # mostly waiting for the encoder threads (bot/nlu/batching.py): four parse threads let
    # the messages of several conversations meet there as one batch; with the two encoder
    # threads, 8 conversations of unique texts went from 45 to 75 messages/s (bench/load.py).
    nlu_threads: int = Field(4, ge=1, le=32, title="Threads that parse messages")
    embed_threads: int | None = Field(
        None, ge=1, le=16, title="Threads (engines) that embed messages; default: one a "
        "core this process may use (`bpbot serve --workers N` shares the cores out), at "
        "most 4")
    nlu_queue_max: int = Field(256, ge=1, title="Messages waiting for the NLU; beyond: 503")
    # Generous: many customers can share one address (an office, a proxy not listed in
    # BPBOT_TRUSTED_PROXIES); the turns between addresses keep the others' waits short.
    nlu_queue_per_client: int = Field(64, ge=1, title="Messages of one client (address) "
                                      "waiting for the NLU; beyond: 503")
    max_message_chars: int = Field(
        2000, ge=100, le=10000, title="Longest chat message; a longer one is refused before "
        "the NLU with a message that says the limit (the widget keeps the text)")
    # No connection is held across a turn (the NLU, the actions): each database step takes
    # one for milliseconds, from threads of their own, so the event loop never waits.
    db_pool_size: int = Field(8, ge=1, le=200, title="Pooled database connections (and "
                              "threads for database work) per process")
    db_max_overflow: int = Field(4, ge=0, le=200, title="Connections beyond the pool at peaks")
    db_pool_timeout_s: float = Field(5.0, gt=0, title="Longest wait for a connection; then "
                                     "the request gets 503 with Retry-After")
    turn_lease_s: float = Field(30.0, gt=1, title="How long a turn may hold its conversation; "
                                "a lease left by a dead process runs out after this")
    store_failure_window_s: float = Field(
        30.0, ge=0, title="After the database refused a write, /readyz says not ready for "
        "this long (and while its own test write fails)")
    turn_wait_s: float = Field(15.0, gt=0, title="Longest wait for the conversation's previous "
                               "turn; then 503 with Retry-After")

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", title="Level of the project's and uvicorn's logs")
    log_format: Literal["plain", "json"] = Field(
        "plain", title="Log lines as text, or as one JSON object per line")
    public_url: str = Field("http://127.0.0.1:5005", title="The assistant's address as customers "
                            "reach it (links in e-mails, such as the rating links)")
    rating_link_days: int = Field(30, ge=1, le=365, title="Days a rating link in the "
                                  "customer's e-mail works after it was sent (once)")
    model_poll_s: float = Field(
        2.0, ge=0, title="How often a server process looks for a newly promoted model (and "
        "then switches to it without a restart); 0: never")
    migrate_on_start: bool | None = Field(
        None, title="Bring the database schema up to date when a process starts; default: "
        "everywhere but production, where `bpbot db upgrade` does it once before the new "
        "version starts")
    api_docs: bool | None = Field(
        None, title="Serve /docs and /openapi.json; default: everywhere but production")
    admin_token: str | None = Field(
        None, title="Bearer token for /metrics and /model/parse; unset: open outside "
        "production, not served in production")

    @property
    def trusted_proxy_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """The trusted proxies as networks."""
        return [ipaddress.ip_network(p, strict=False) for p in self.trusted_proxies]

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(f"BPBOT_TRUSTED_PROXIES: '{item}' is not an IP address or "
                                 "network; expected e.g. [\"10.0.0.5\", \"10.0.1.0/24\"]"
                                 ) from exc
        return value

    @property
    def encoder_threads(self) -> int:
        """The embedding engines of a server process (`embed_threads` or the cores)."""
        return self.embed_threads if self.embed_threads is not None else default_encoders()

    @property
    def migrates_on_start(self) -> bool:
        """Whether a process brings the schema up to date when it opens the database."""
        if self.migrate_on_start is None:
            return self.environment != "production"
        return self.migrate_on_start

    @property
    def serves_api_docs(self) -> bool:
        """Whether /docs and /openapi.json are served."""
        return self.environment != "production" if self.api_docs is None else self.api_docs

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> Settings:
        if self.environment == "production":
            for name in ("webhook_secret", "session_secret"):
                value = getattr(self, name)
                if value == DEFAULT_SECRET or len(value) < 16:
                    raise ValueError(
                        f"BPBOT_{name.upper()} is left at its default or shorter than 16 "
                        "characters; set a long random value in production.")
        return self


def default_encoders(workers: int = 1) -> int:
    """Embedding engines a process runs by default: 1 to 4, one a core.

    The cores this process may use are shared out among `workers` processes.
    """
    return min(4, max(1, len(os.sched_getaffinity(0)) // workers))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
