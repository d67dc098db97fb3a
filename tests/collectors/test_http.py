"""The shared HTTP client against a real local server: retries, Retry-After, quotas, conditional GET."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from collectors import http
from collectors.base import (
    FetchState,
    NeedsHumanError,
    RateLimitedError,
    TransientError,
    UnparseableError,
)
from collectors.http import HostLimiter, HttpPolicy, PoliteTransport, parse_reset, parse_retry_after
from tests.replay import ReplayServer, Reply


class Sleeps:
    """Records the waits the transport asks for instead of spending them."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def polite_client(sleeps: Sleeps, **policy: float) -> httpx.Client:
    settings = HttpPolicy(
        **{
            "timeout": 1.0,
            "retries": 2,
            "backoff_base": 0.5,
            "min_interval_per_host": 0.0,
            **policy,
        }
    )
    return http.make_client(settings, HostLimiter(settings.min_interval_per_host), sleep=sleeps)


def test_server_errors_are_retried_with_growing_jittered_backoff(replay: ReplayServer) -> None:
    replay.route("/x", Reply(status=502), Reply(status=503), Reply(b"{}"))
    sleeps = Sleeps()
    with polite_client(sleeps) as client:
        response = http.get(client, f"{replay.url}/x")
    assert response is not None and response.status_code == 200
    backoffs = [s for s in sleeps.calls if s > 0]
    assert len(backoffs) == 2
    assert 0.25 <= backoffs[0] <= 0.5 and 0.5 <= backoffs[1] <= 1.0


def test_persistent_server_error_is_transient(replay: ReplayServer) -> None:
    replay.route("/x", Reply(status=500))
    with polite_client(Sleeps()) as client, pytest.raises(TransientError, match="HTTP 500"):
        http.get(client, f"{replay.url}/x")
    assert len(replay.hits("/x")) == 3, "the first try and two retries"


def test_short_retry_after_is_waited_out(replay: ReplayServer) -> None:
    replay.route("/x", Reply(status=429, headers={"Retry-After": "7"}), Reply(b"ok"))
    sleeps = Sleeps()
    with polite_client(sleeps) as client:
        assert http.get(client, f"{replay.url}/x").text == "ok"
    assert 7.0 in sleeps.calls


def test_long_retry_after_becomes_a_rate_limit_error(replay: ReplayServer) -> None:
    replay.route("/x", Reply(status=429, headers={"Retry-After": "3600"}))
    with polite_client(Sleeps()) as client, pytest.raises(RateLimitedError) as caught:
        http.get(client, f"{replay.url}/x")
    assert caught.value.retry_after == 3600
    assert len(replay.hits("/x")) == 1


def test_exhausted_quota_holds_the_host(replay: ReplayServer) -> None:
    replay.route(
        "/x", Reply(b"{}", headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "42"})
    )
    sleeps = Sleeps()
    with polite_client(sleeps) as client:
        http.get(client, f"{replay.url}/x")
        http.get(client, f"{replay.url}/x")
    assert sleeps.calls[-1] == pytest.approx(42, abs=1)


def test_requests_to_one_host_are_spaced() -> None:
    now = [100.0]
    limiter = HostLimiter(2.0, clock=lambda: now[0])
    assert [limiter.reserve("a"), limiter.reserve("a"), limiter.reserve("b")] == [0.0, 2.0, 0.0]


def test_timeouts_are_retried_then_reported(replay: ReplayServer) -> None:
    replay.route("/slow", Reply(b"late", delay=1.5))
    with (
        polite_client(Sleeps(), timeout=0.3, retries=1) as client,
        pytest.raises(TransientError, match="timed out"),
    ):
        http.get(client, f"{replay.url}/slow")
    assert len(replay.hits("/slow")) == 2


def test_conditional_get_sends_validators_and_returns_none_on_304(replay: ReplayServer) -> None:
    stamp = "Mon, 16 Nov 2026 09:00:00 GMT"
    replay.route(
        "/feed",
        Reply(b"<rss/>", headers={"ETag": '"abc"', "Last-Modified": stamp}),
        Reply(status=304),
    )
    state = FetchState()
    with polite_client(Sleeps()) as client:
        assert http.get(client, f"{replay.url}/feed", state=state) is not None
        assert http.get(client, f"{replay.url}/feed", state=state) is None
    second = replay.hits("/feed")[1].headers
    assert (second["If-None-Match"], second["If-Modified-Since"]) == ('"abc"', stamp)
    assert state.etag == '"abc"'


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (401, NeedsHumanError, "credentials"),
        (404, NeedsHumanError, "not found"),
        (400, NeedsHumanError, "rejected"),
    ],
)
def test_client_errors_need_a_human(
    replay: ReplayServer, status: int, error: type, words: str
) -> None:
    replay.route("/x", Reply(b"<html>no</html>", status=status))
    with polite_client(Sleeps()) as client, pytest.raises(error, match=words):
        http.get(client, f"{replay.url}/x")


def test_html_where_json_was_expected_is_unparseable(replay: ReplayServer) -> None:
    replay.route(
        "/api", Reply(b"<!DOCTYPE html><title>Error</title>", headers={"Content-Type": "text/html"})
    )
    with polite_client(Sleeps()) as client:
        response = http.get(client, f"{replay.url}/api")
    with pytest.raises(
        UnparseableError, match="expected JSON .* got text/html starting '<!DOCTYPE html>"
    ):
        http.json_body(response)


def test_user_agent_names_vigia(replay: ReplayServer) -> None:
    replay.route("/x", Reply(b"ok"))
    with polite_client(Sleeps()) as client:
        http.get(client, f"{replay.url}/x")
    assert replay.hits("/x")[0].headers["User-Agent"].startswith("Vigia/")


def test_header_parsing() -> None:
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    assert parse_retry_after("120") == 120
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90
    assert parse_retry_after("soon") is None
    assert parse_reset("30", now) == 30  # delta seconds (Reddit, IETF draft)
    assert parse_reset(str(int(now.timestamp()) + 60), now) == 60  # epoch seconds (Bluesky)
    assert parse_reset("2026-11-23T12:05:00.000Z", now) == 300  # ISO timestamp (Mastodon)


def test_transport_is_the_politeness_layer() -> None:
    with http.make_client() as client:
        assert isinstance(client._transport, PoliteTransport)
