"""config.yaml -> typed, validated settings; secrets come from VIGIA_* environment variables.

Validation happens once, at start-up. Every problem becomes one line naming the key and what is
expected, e.g. ``config.yaml: sources[1] (acme-news).interval: expected a duration such as 15m``.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import fields, replace
from datetime import time, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from analysis.spikes import PRESETS as SPIKE_PRESETS
from analysis.spikes import SpikeParams
from analysis.threads import PRESETS as THREAD_PRESETS
from analysis.threads import ThreadParams
from collectors import REGISTRY
from collectors.base import CollectorOptions
from collectors.http import DEADLINE, MAX_RESPONSE_BYTES
from vigia.access.links import SECRET_ENV, secret_key
from vigia.access.roles import Role
from vigia.storage.engine import check_url

DEFAULT_DATABASE_URL = "sqlite:///data/vigia.db"
DEFAULT_PUBLIC_URL = "http://localhost:8501"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_SECRET_KEYS = ("password", "app_password", "token", "api_key", "secret")


class ConfigError(Exception):
    """The configuration is wrong; each line of the message names a key and what is expected."""


def parse_duration(value: Any) -> timedelta:
    """`15m`, `2h`, `90s`, `1d` or a number of seconds, as a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError("expected a duration such as 90s, 15m, 2h or 1d")
    return timedelta(seconds=float(match[1]) * _UNITS[match[2]])


def parse_size(value: Any) -> int:
    """`20MB`, `512KB`, `1GB` or a number of bytes, as bytes; units are binary (1 KB = 1024 bytes)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _SIZE.match(str(value)) if isinstance(value, str) else None
    if not match:
        raise ValueError("expected a size such as 512KB, 20MB or 1GB, or a number of bytes")
    return int(float(match[1]) * _SIZE_UNITS[(match[2] or "b")[0].lower()])


def duration_above(
    value: Any, minimum: timedelta, problem: str, inclusive: bool = True
) -> timedelta:
    """A duration from config (see parse_duration) of at least `minimum` (above it when not
    `inclusive`); ValueError(`problem`) otherwise."""
    duration = parse_duration(value)
    if duration < minimum or not inclusive and duration == minimum:
        raise ValueError(problem)
    return duration


def secret_env_name(*path: str) -> str:
    """The environment variable holding the secret at `path`, e.g. ('smtp', 'password') -> VIGIA_SMTP_PASSWORD."""
    return "VIGIA_" + "_".join(re.sub(r"[^A-Za-z0-9]+", "_", p).upper() for p in path)


def read_secret(*path: str) -> str | None:
    """The secret at `path` from its environment variable, or None when unset."""
    return os.environ.get(secret_env_name(*path)) or None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _no_secrets_in_file(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            for key in _SECRET_KEYS:
                if key in data:
                    raise ValueError(
                        f"'{key}' must not be written in config.yaml; set it in the "
                        "environment (VIGIA_<SECTION>_<KEY>, e.g. VIGIA_SMTP_PASSWORD)"
                    )
        return data


class BrandConfig(_Strict):
    """A brand to watch: its name, the words that mention it, and phrases that rule a match out.

    `competitor: true` marks another company's brand: watched like the others, and compared
    with ours in the weekly report's share of voice.
    """

    name: str = Field(min_length=1)
    keywords: list[str] = Field(min_length=1)
    aliases: list[str] = []
    exclude: list[str] = []
    competitor: bool = False

    @property
    def terms(self) -> list[str]:
        return [self.name, *self.keywords, *self.aliases]


class SourceConfig(BaseModel):
    """One source to poll; keys beyond the common ones are the collector type's own options.

    `match: always` files every item under `brand` without looking for the brand's words (the
    brand's own app reviews or channel); the default, `text`, keeps only items that name it.
    `watch_threads`: how many of the source's most active conversations of the last two days
    are re-read each poll, for collectors that can (new replies, growing engagement).
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=100)
    type: str
    brand: str | None = None
    interval: timedelta = timedelta(minutes=15)
    language: str | None = None
    match: Literal["text", "always"] = "text"
    watch_threads: int = Field(5, ge=0, le=50)
    enabled: bool = True
    _options: CollectorOptions = PrivateAttr()

    @field_validator("interval", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return duration_above(value, timedelta(seconds=5), "expected at least 5s between polls")

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in REGISTRY:
            raise ValueError(f"unknown source type; expected one of: {', '.join(sorted(REGISTRY))}")
        return value

    @model_validator(mode="after")
    def _collector_options(self) -> SourceConfig:
        options_model = REGISTRY[self.type].Options
        try:
            self._options = options_model.model_validate(self.model_extra or {})
        except ValidationError as exc:
            expected = [*SourceConfig.model_fields, *options_model.model_fields]
            problems = [describe(error, self.model_extra or {}, expected) for error in exc.errors()]
            raise ValueError("; ".join(problems)) from None
        return self

    @property
    def options(self) -> CollectorOptions:
        """The collector's own options, validated against its `Options` model."""
        return self._options


def _http_url(value: str) -> str:
    """`value` without a trailing slash if it is an http(s) URL with a host; else ValueError."""
    if not re.fullmatch(r"https?://[^/\s?#]+(/[^\s?#]*)?", value, re.IGNORECASE):
        raise ValueError("expected an http(s) URL such as https://vigia.example.com")
    return value.rstrip("/")


class WebhookConfig(_Strict):
    """One chat or webhook recipient of alerts.

    An ``http(s)://`` URL receives each alert as a JSON POST; any other scheme (``slack://``,
    ``tgram://``, ``msteams://``, ``discord://``, ``mailto://`` …) is an Apprise URL. URLs that hold
    a token stay out of config.yaml: leave ``url`` out and set ``VIGIA_ALERTS_WEBHOOKS_<NAME>``.
    """

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=60)
    url: str | None = None
    min_severity: Literal["warning", "critical"] = "warning"

    @field_validator("url")
    @classmethod
    def _has_scheme(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[a-z][a-z0-9+.-]*://\S+$", value, re.IGNORECASE):
            raise ValueError("expected a URL such as https://… or an Apprise URL such as slack://…")
        return value

    @property
    def env_name(self) -> str:
        return secret_env_name("alerts", "webhooks", self.name)

    @property
    def resolved_url(self) -> str | None:
        """The URL from config.yaml, else from the environment; None when neither is set."""
        return self.url or read_secret("alerts", "webhooks", self.name)


class AlertsConfig(_Strict):
    """Who hears about a crisis, how, and how sensitive the detectors are.

    ``spike`` and ``thread`` override single parameters of the ``sensitivity`` preset (see
    analysis/spikes.py and analysis/threads.py); durations are written as ``30m``, ``2h``.
    """

    sensitivity: Literal["low", "medium", "high"] = "medium"
    spike: dict[str, Any] = {}
    thread: dict[str, Any] = {}
    cooldown: timedelta = timedelta(hours=2)
    quiet_gap: timedelta = timedelta(hours=6)
    reopen_within: timedelta = timedelta(hours=24)
    recipients: list[str] = []
    managers: list[str] = []
    language: Literal["es", "en"] = "es"
    digest: bool = False
    digest_hour: int = Field(8, ge=0, le=23)
    outbox: Path | None = None
    webhooks: list[WebhookConfig] = []
    # Deprecated: the dashboard's address is `dashboard.public_url`; this is read into it.
    dashboard_url: str | None = None

    @field_validator("cooldown", "quiet_gap", "reopen_within", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return parse_duration(value)

    @field_validator("dashboard_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)

    @field_validator("recipients", "managers")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        for value in values:
            if not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", value):
                raise ValueError(f"expected an e-mail address, got {value!r}")
        return values

    @field_validator("webhooks", mode="before")
    @classmethod
    def _plain_urls(cls, values: Any) -> Any:
        # A bare URL is the short form of {name: webhook-N, url: …}.
        if isinstance(values, list):
            return [
                {"name": f"webhook-{i + 1}", "url": v} if isinstance(v, str) else v
                for i, v in enumerate(values)
            ]
        return values

    @field_validator("spike", "thread")
    @classmethod
    def _known_parameters(cls, values: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        preset = SPIKE_PRESETS["medium"] if info.field_name == "spike" else THREAD_PRESETS["medium"]
        _tune(preset, values)
        return values

    @model_validator(mode="after")
    def _consistent(self) -> AlertsConfig:
        names = [w.name for w in self.webhooks]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"webhooks: the name {name!r} is used twice; names must be unique")
        # Overrides were checked against one preset; they must fit the chosen one too.
        for key, build in (("spike", self.spike_params), ("thread", self.thread_params)):
            try:
                build()
            except ValueError as exc:
                raise ValueError(f"{key} (with sensitivity {self.sensitivity}): {exc}") from None
        return self

    def spike_params(self) -> SpikeParams:
        """The spike detector's parameters: the sensitivity preset with `spike` overrides."""
        return _tune(SPIKE_PRESETS[self.sensitivity], self.spike)

    def thread_params(self) -> ThreadParams:
        """The thread detector's parameters: the sensitivity preset with `thread` overrides."""
        return _tune(THREAD_PRESETS[self.sensitivity], self.thread)


_Params = TypeVar("_Params", SpikeParams, ThreadParams)


def _tune(preset: _Params, overrides: Mapping[str, Any]) -> _Params:
    """`preset` with `overrides` converted to each field's type; errors name the parameter."""
    kinds = {f.name: type(getattr(preset, f.name)) for f in fields(preset)}
    converted: dict[str, Any] = {}
    for key, value in overrides.items():
        kind = kinds.get(key)
        if kind is None:
            raise ValueError(f"unknown parameter {key!r}; expected one of: {', '.join(kinds)}")
        try:
            if kind is timedelta:
                converted[key] = parse_duration(value)
            elif kind is int:
                if isinstance(value, bool) or float(value) != int(float(value)):
                    raise ValueError
                converted[key] = int(float(value))
            else:
                converted[key] = float(value)
        except (TypeError, ValueError):
            expected = (
                "a duration such as 30m" if kind is timedelta else f"a number ({kind.__name__})"
            )
            raise ValueError(f"{key}: expected {expected}, got {value!r}") from None
    try:
        return replace(preset, **converted)
    except ValueError as exc:
        raise ValueError(str(exc)) from None


class SmtpConfig(_Strict):
    """The mail server for alerts; the password comes from VIGIA_SMTP_PASSWORD."""

    host: str
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    user: str | None = None
    sender: str
    timeout: float = Field(20.0, gt=0)

    @property
    def password(self) -> str | None:
        return read_secret("smtp", "password")


class ExportConfig(_Strict):
    """Where and when the weekly export is written (an APScheduler cron schedule), and the CSV's
    delimiter: None follows the language rule in `vigia.exports.csv_delimiter`."""

    folder: Path = Path("exports")
    day_of_week: str = Field("mon", pattern=r"^(mon|tue|wed|thu|fri|sat|sun)$")
    hour: int = Field(7, ge=0, le=23)
    minute: int = Field(0, ge=0, le=59)
    delimiter: Literal[",", ";", "\t", "|"] | None = None


class HttpConfig(_Strict):
    """Timeouts, retries, pacing and response limits shared by every collector.

    `timeout` bounds each network read; `deadline` a whole request, retries included.
    `max_response_size` caps a body as decoded, so a compression bomb stops there too.
    """

    timeout: float = Field(20.0, gt=0)
    deadline: timedelta = timedelta(seconds=DEADLINE)
    max_response_size: int = Field(MAX_RESPONSE_BYTES, gt=0)
    retries: int = Field(3, ge=0, le=10)
    backoff_base: float = Field(1.0, gt=0)
    min_interval_per_host: float = Field(1.0, ge=0)
    unhealthy_after: int = Field(5, ge=1)

    @field_validator("deadline", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        problem = "expected a positive duration such as 30s or 2m"
        return duration_above(value, timedelta(0), problem, inclusive=False)

    @field_validator("max_response_size", mode="before")
    @classmethod
    def _size(cls, value: Any) -> int:
        return parse_size(value)


class WorkersConfig(_Strict):
    """How `vigia run` processes sharing one database hand sources to each other."""

    # A worker renews its claims every third of the lease; one killed mid-poll has its sources
    # taken over by another worker once the lease runs out.
    lease: timedelta = timedelta(seconds=60)

    @field_validator("lease", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        problem = "expected a duration of at least 3s, such as 60s"
        return duration_above(value, timedelta(seconds=3), problem)


class DashboardConfig(_Strict):
    """Where the dashboard listens, and the URL people reach it at (linked from alert e-mails).

    `address` is 127.0.0.1 by default: only this machine. `0.0.0.0` listens on every interface,
    e.g. behind a reverse proxy on another machine; `public_url` is then the proxy's URL.
    """

    address: str = Field("127.0.0.1", pattern=r"^[A-Za-z0-9.:-]+$")
    public_url: str = DEFAULT_PUBLIC_URL

    @field_validator("public_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)


class SsoConfig(_Strict):
    """Single sign-on through an OpenID Connect provider (Streamlit's st.login).

    The client id and secret come from VIGIA_AUTH_SSO_CLIENT_ID and VIGIA_AUTH_SSO_CLIENT_SECRET;
    the provider calls back at `dashboard.public_url` + /oauth2callback.
    """

    label: str = Field("SSO", min_length=1, max_length=40)
    server_metadata_url: str

    @field_validator("server_metadata_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)

    @property
    def client_id(self) -> str | None:
        return read_secret("auth", "sso", "client_id")

    @property
    def client_secret(self) -> str | None:
        return read_secret("auth", "sso", "client_secret")


class ProxyAuthConfig(_Strict):
    """A reverse proxy that signs people in and passes their e-mail in `header`; the header is
    believed only from the `trusted` addresses or networks (the proxy's own)."""

    header: str = Field("X-Forwarded-Email", pattern=r"^[A-Za-z0-9-]+$")
    trusted: list[str] = Field(min_length=1)

    @field_validator("trusted")
    @classmethod
    def _networks(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ValueError(
                    f"expected IP addresses or networks such as 127.0.0.1 or 10.0.0.0/8, "
                    f"got {value!r}"
                ) from None
        return values


class AuthConfig(_Strict):
    """Signing in to the dashboard: session lengths, the acknowledge links in alert e-mails,
    and the roles of single sign-on or proxy users, by e-mail ("*@example.com" for a domain)."""

    session_lifetime: timedelta = timedelta(hours=12)
    idle_timeout: timedelta = timedelta(hours=1)
    ack_link_lifetime: timedelta = timedelta(days=3)
    roles_by_email: dict[str, Role] = {}
    sso: SsoConfig | None = None
    proxy: ProxyAuthConfig | None = None

    @field_validator("session_lifetime", "idle_timeout", "ack_link_lifetime", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return duration_above(value, timedelta(minutes=1), "expected a duration such as 30m or 12h")

    @field_validator("roles_by_email")
    @classmethod
    def _emails(cls, values: dict[str, Role]) -> dict[str, Role]:
        for key in values:
            if not re.fullmatch(r"(\*|[^@\s*]+)@[^@\s*]+\.[^@\s*]+", key):
                raise ValueError(f"expected e-mail addresses or *@domain as keys, got {key!r}")
        return {key.casefold(): role for key, role in values.items()}


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class BusinessHours(_Strict):
    """The hours the care team works, in `timezone`: response targets only count these."""

    days: list[Weekday] = Field(["mon", "tue", "wed", "thu", "fri"], min_length=1)
    start: time = time(9)
    end: time = time(18)

    @model_validator(mode="after")
    def _order(self) -> BusinessHours:
        if self.end <= self.start:
            raise ValueError("end must come after start, e.g. start: '09:00', end: '18:00'")
        return self


class EscalationRule(_Strict):
    """Mentions that go to the managers at once. Every condition given must hold; `terms`
    matches when any term is in the text (whole words, any case or accent)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=60)
    terms: list[str] = []
    topics: list[str] = []
    max_compound: float | None = Field(None, ge=-1, le=1)
    min_engagement: int | None = Field(None, ge=0)
    # The author's followers, where the platform gives them (not met where it does not).
    min_followers: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _some_condition(self) -> EscalationRule:
        if not (self.terms or self.topics or self.max_compound is not None
                or self.min_engagement is not None or self.min_followers is not None):  # fmt: skip
            raise ValueError(
                "give at least one of terms, topics, max_compound, min_engagement, min_followers"
            )
        return self


class PreparedReplyConfig(_Strict):
    """A prepared reply seeded into the database once (then edited on the dashboard).
    Placeholders: {autor}, {marca}, {pedido}, {agente}."""

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=60)
    topic: str | None = None
    language: str = Field(min_length=2, max_length=8)
    title: str = Field(min_length=1, max_length=120)
    body: str = Field(min_length=1)


class InboxConfig(_Strict):
    """The care inbox: which brand mentions become items, how urgent they are, response
    targets, escalation rules and prepared replies."""

    include: list[Literal["negative", "question"]] = ["negative", "question"]
    # Priority scores run 0-100; from `urgent_from` on an item is urgent.
    urgent_from: float = Field(45, ge=0, le=100)
    targets: dict[Literal["urgent", "normal"], timedelta] = {
        "urgent": timedelta(minutes=30),
        "normal": timedelta(hours=4),
    }
    hours: Literal["24/7"] | BusinessHours = "24/7"
    # Mentions published longer ago than this when collected (a first poll's history) are not
    # made items: nobody answers a three-week-old post, and they would all be overdue at once.
    max_age: timedelta = timedelta(days=3)
    # Open items past their target that raise an operator alert (null: never).
    overdue_alert: int | None = Field(5, ge=1)
    escalation: list[EscalationRule] = []
    replies: list[PreparedReplyConfig] = []

    @field_validator("max_age", mode="before")
    @classmethod
    def _age(cls, value: Any) -> timedelta:
        return duration_above(value, timedelta(hours=1), "expected a duration such as 3d")

    @field_validator("targets", mode="before")
    @classmethod
    def _durations(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        return {k: duration_above(v, timedelta(minutes=1), "expected a duration such as 30m or 4h")
                for k, v in value.items()}  # fmt: skip

    @field_validator("targets")
    @classmethod
    def _both(cls, value: dict[str, timedelta]) -> dict[str, timedelta]:
        if set(value) != {"urgent", "normal"}:
            raise ValueError("give both urgent and normal, e.g. {urgent: 30m, normal: 4h}")
        return value


class ThresholdConfig(_Strict):
    negative: float = Field(ge=-1, le=0)
    positive: float = Field(ge=0, le=1)


class AnalysisConfig(_Strict):
    """Languages to detect and score, and the per-language sentiment cut-offs."""

    languages: list[str] = ["es", "en"]
    thresholds: dict[str, ThresholdConfig] = {}


class RetentionConfig(_Strict):
    """How long personal data is kept (GDPR storage limitation); `0` or null keeps it for ever.

    After `raw_payload_days` (counted from collection) a mention's raw payload is cleared; after
    `mention_days` (counted from publication) the mention and its engagement history are
    deleted, and alerts not updated since lose the quoted text. The rollups are kept.
    """

    raw_payload_days: int | None = Field(30, ge=0)
    mention_days: int | None = Field(365, ge=0)

    @field_validator("raw_payload_days", "mention_days", mode="before")
    @classmethod
    def _days(cls, value: Any) -> Any:
        if isinstance(value, bool) or value is not None and not isinstance(value, int):
            raise ValueError("expected a whole number of days (0 or null: keep for ever)")
        return value

    @property
    def raw_payload_age(self) -> timedelta | None:
        """Raw payloads of mentions collected longer ago than this are cleared; None: kept."""
        return timedelta(days=self.raw_payload_days) if self.raw_payload_days else None

    @property
    def mention_age(self) -> timedelta | None:
        """Mentions published longer ago than this are deleted; None: kept."""
        return timedelta(days=self.mention_days) if self.mention_days else None


class Settings(_Strict):
    """The whole validated configuration; relative paths are resolved against the config's folder."""

    database_url: str = DEFAULT_DATABASE_URL
    timezone: str = "UTC"
    brands: list[BrandConfig] = Field(min_length=1)
    sources: list[SourceConfig] = []
    alerts: AlertsConfig = AlertsConfig()
    dashboard: DashboardConfig = DashboardConfig()
    auth: AuthConfig = AuthConfig()
    inbox: InboxConfig = InboxConfig()
    smtp: SmtpConfig | None = None
    export: ExportConfig = ExportConfig()
    http: HttpConfig = HttpConfig()
    workers: WorkersConfig = WorkersConfig()
    retention: RetentionConfig = RetentionConfig()
    analysis: AnalysisConfig = AnalysisConfig()
    topics: dict[str, dict[str, list[str]]] = {}
    base_dir: Path = Path(".")

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str) -> str:
        check_url(value)
        return value

    @model_validator(mode="before")
    @classmethod
    def _old_dashboard_url(cls, data: Any) -> Any:
        # alerts.dashboard_url (before dashboard:) still works: it is the dashboard's public URL.
        if not isinstance(data, Mapping):
            return data
        alerts, dashboard = data.get("alerts"), data.get("dashboard")
        old = alerts.get("dashboard_url") if isinstance(alerts, Mapping) else None
        if not isinstance(old, str) or dashboard is not None and not isinstance(dashboard, Mapping):
            return data
        if "public_url" in (dashboard or {}):
            return data
        try:
            _http_url(old)
        except ValueError:
            return data  # reported at alerts.dashboard_url, where it is written
        return {**data, "dashboard": {**(dashboard or {}), "public_url": old}}

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("expected an IANA time zone such as Europe/Madrid") from exc
        return value

    @model_validator(mode="after")
    def _cross_references(self) -> Settings:
        problems = cross_reference_problems(
            [b.name for b in self.brands], [(s.name, s.brand) for s in self.sources]
        )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def deprecations(self) -> list[str]:
        """One line per deprecated key still in use, with what to write instead."""
        if self.alerts.dashboard_url is None:
            return []
        return ["alerts.dashboard_url is deprecated; write it as dashboard.public_url"]

    @property
    def warnings(self) -> list[str]:
        """What is valid but probably not what was meant: printed by check-config and logged
        when `vigia run` starts, without stopping either."""
        found = []
        addressed = [*self.alerts.recipients, *self.alerts.managers]
        if addressed and self.smtp is None:
            found.append(
                f"alerts: {len(addressed)} e-mail recipient(s) but no smtp: section; "
                "no alert or report e-mail can be sent"
            )
        if not any(source.enabled for source in self.sources):
            found.append("sources: no enabled source; nothing will be collected")
        if not self.topics:
            found.append("topics: missing or empty; mentions will not be sorted into topics")
        return found

    @property
    def zone(self) -> ZoneInfo:
        """`timezone` as a ZoneInfo."""
        return ZoneInfo(self.timezone)

    @property
    def competitors(self) -> frozenset[str]:
        """The brands marked `competitor: true`."""
        return frozenset(b.name for b in self.brands if b.competitor)

    def resolve(self, path: Path) -> Path:
        """`path` relative to the folder holding config.yaml."""
        return path if path.is_absolute() else self.base_dir / path

    @property
    def resolved_database_url(self) -> str:
        """The database URL, with a relative SQLite path anchored at the config's folder."""
        url = os.environ.get("VIGIA_DATABASE_URL") or self.database_url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(self.resolve(Path(url[len(prefix) :])))
        return url

    def source(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        raise ConfigError(
            f"no source named {name!r}; configured: {', '.join(s.name for s in self.sources)}"
        )


def cross_reference_problems(
    brand_names: Sequence[str], sources: Sequence[tuple[str, str | None]]
) -> list[str]:
    """Every problem between keys (and with the environment), not only the first: duplicate
    source names, sources naming an unknown brand, unusable VIGIA_* variables."""
    problems = []
    if override := os.environ.get("VIGIA_DATABASE_URL"):
        try:
            check_url(override)
        except ValueError as exc:
            problems.append(f"VIGIA_DATABASE_URL (environment): {exc}")
    try:
        secret_key()  # checked at start, not at the first alert e-mail
    except ValueError as exc:
        problems.append(f"{SECRET_ENV} (environment): {exc}")
    seen: set[str] = set()
    for name, brand in sources:
        if name in seen:
            problems.append(f"sources: the name {name!r} is used twice; names must be unique")
        seen.add(name)
        # Without any valid brand name the brands key itself is reported; every source would
        # be "unknown" here.
        if brand is not None and brand_names and brand not in brand_names:
            problems.append(
                f"sources ({name}).brand: unknown brand {brand!r}; "
                f"expected one of: {', '.join(sorted(brand_names))}"
            )
    return problems


def _raw_cross_reference_problems(data: Mapping[str, Any]) -> list[str]:
    """cross_reference_problems on data that failed field validation, so that check-config
    reports them with the field errors in one pass; what cannot be read is skipped."""

    def named(key: str) -> list[Mapping[str, Any]]:
        items = data.get(key)
        if not isinstance(items, list):
            return []
        return [i for i in items if isinstance(i, Mapping) and isinstance(i.get("name"), str)]

    brands = [b["name"] for b in named("brands")]
    sources = [
        (s["name"], s.get("brand") if isinstance(s.get("brand"), str) else None)
        for s in named("sources")
    ]
    return cross_reference_problems(brands, sources)


def load_settings(path: Path) -> Settings:
    """Read and validate `path`; raise ConfigError with one line per problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(
            f"{path}:{where}: not valid YAML: {getattr(exc, 'problem', exc)}"
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    return parse_settings(data, base_dir=path.resolve().parent, origin=path.name)


def parse_settings(data: Mapping[str, Any], base_dir: Path, origin: str = "config") -> Settings:
    """Validate already-loaded settings data."""
    try:
        return Settings.model_validate({**data, "base_dir": base_dir})
    except ValidationError as exc:
        problems = [line for e in exc.errors() for line in describe(e, data).splitlines()]
        # Field errors stop pydantic before the cross-references: check them on the raw data,
        # so that one pass reports everything.
        problems += [p for p in _raw_cross_reference_problems(data) if p not in problems]
        raise ConfigError("\n".join(f"{origin}: {problem}" for problem in problems)) from None


def describe(
    error: Mapping[str, Any], data: Mapping[str, Any], expected: Sequence[str] | None = None
) -> str:
    """One pydantic error as `key.path: what is expected`."""
    loc = _location(error["loc"], data)
    kind = error["type"]
    if kind == "extra_forbidden":
        keys = expected if expected is not None else _fields_at(error["loc"][:-1])
        message = "unknown key" + (f"; expected one of: {', '.join(keys)}" if keys else "")
    elif kind == "missing":
        message = "required key is missing"
    else:
        message = str(error["msg"]).removeprefix("Value error, ")
        if "input" in error and kind not in ("value_error", "assertion_error"):
            message += f" (got {error['input']!r})"
    return f"{loc}: {message}" if loc else message


def _location(loc: Sequence[Any], data: Mapping[str, Any]) -> str:
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
            node = node[item] if isinstance(node, list) and item < len(node) else None
            if isinstance(node, Mapping) and node.get("name"):
                parts.append(f" ({node['name']})")
        elif isinstance(item, str) and not item.startswith(("function-", "model-")):
            parts.append(("." if parts else "") + item)
            node = node.get(item) if isinstance(node, Mapping) else None
    return "".join(parts)


def _fields_at(loc: Sequence[Any]) -> list[str]:
    """The keys the settings model accepts at `loc`, for an "unknown key" message."""
    model: type[BaseModel] = Settings
    for item in loc:
        if isinstance(item, int):
            continue
        annotation = getattr(model.model_fields.get(item), "annotation", None)
        candidates = (annotation, *getattr(annotation, "__args__", ()))
        nested = [t for t in candidates if isinstance(t, type) and issubclass(t, BaseModel)]
        if not nested:
            return []
        model = nested[0]
    return [name for name in model.model_fields if name != "base_dir"]
