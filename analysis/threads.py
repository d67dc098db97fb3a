"""Spreading negative threads: negative, accelerating conversations and cross-source stories.

A *thread* is a root post with its replies and quotes on one source, keyed by
``(source, thread_id)``; a post without a thread id joins the thread of its parent (followed
through the posts given) or is the root of its own one. For each thread the detector compares
the last ``window`` before ``now`` with the window before it:

* **negative**: at least ``min_negative`` negative posts in the last window, making up at least
  ``min_negative_share`` of the thread's posts in it (a popular neutral thread has some negative
  replies too), written by at least ``min_authors`` distinct authors (one angry user replying
  ten times is not a spreading story);
* **accelerating**: those negatives are ``growth_multiple`` times the previous window's, or the
  thread's engagement growth (replies + reposts + likes + score, from snapshots) is
  ``growth_multiple`` times the previous window's and at least ``min_engagement``.

A flagged thread is ``critical`` when the same story is on two or more sources (same normalised
URL, or near-identical text: word-3-shingle Jaccard >= ``text_similarity``) or when it has
``critical_negative`` negatives in the window; otherwise ``warning``.

Cost: grouping and counting are linear in the posts; engagement and story matching run only for
flagged threads. Near-identical text is found with an inverted index over shingles and prefix
filtering (a set with Jaccard >= t against A must contain one of A's ``|A| - ceil(t|A|) + 1``
rarest shingles), so no all-pairs comparison happens.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

from analysis.text import fold
from timeutil import utc

Severity = Literal["warning", "critical"]

# Query parameters that only track the click; two links differing in them are the same story.
_TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid", "ref_src"}
    | {"_hsenc", "_hsmi", "si", "ref", "smid", "cmpid"}
)
_URL_RE = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_WORD_RE = re.compile(r"\w+")
# Texts shorter than this ("jaja", "qué vergüenza") match each other by chance, not by story.
_MIN_STORY_TOKENS = 5
_SHINGLE = 3


@dataclass(frozen=True, slots=True)
class ThreadPost:
    """One post as the detector needs it (a stored mention with its thread fields)."""

    source: str
    source_id: str
    thread_id: str | None
    parent_id: str | None
    author: str | None
    published: datetime
    url: str
    text: str
    compound: float | None
    negative: bool


@dataclass(frozen=True, slots=True)
class EngagementSnapshot:
    """Engagement counters of one post as observed at one time."""

    source: str
    source_id: str
    observed: datetime
    replies: int
    reposts: int
    likes: int
    score: int
    views: int


@dataclass(frozen=True, slots=True)
class ThreadParams:
    """Tunables of :func:`detect_spreading_threads`; see :data:`PRESETS`."""

    window: timedelta = timedelta(hours=1)
    min_negative: int = 8
    min_negative_share: float = 0.5
    min_authors: int = 3
    growth_multiple: float = 2.0
    min_engagement: int = 50
    critical_negative: int = 25
    text_similarity: float = 0.8
    series_step: timedelta = timedelta(minutes=30)
    series_points: int = 12


PRESETS: dict[str, ThreadParams] = {
    "low": ThreadParams(min_negative=12, min_authors=5, growth_multiple=3.0, min_engagement=100),
    "medium": ThreadParams(),
    "high": ThreadParams(
        min_negative=6, min_negative_share=0.4, min_authors=3, growth_multiple=1.5
    ),
}
"""Sensitivity presets.

==================  =====  ======  =====  ==================================================
parameter           low    medium  high   meaning
==================  =====  ======  =====  ==================================================
window              1 h    1 h     1 h    last window (compared with the one before it)
min_negative        12     8       6      negative posts in the thread in the last window
min_negative_share  0.5    0.5     0.4    their share of the thread's posts in that window
min_authors         5      3       3      distinct authors of those negative posts
growth_multiple     3      2       1.5    last window / previous (negatives or engagement)
min_engagement      100    50      50     engagement growth needed for the engagement path
critical_negative   25     25      25     negatives in the window that make it critical
text_similarity     0.8    0.8     0.8    shingle Jaccard for "same story, other source"
series_step         30 m   30 m    30 m   step of the growth series for the sparkline
series_points       12     12      12     points in the growth series
==================  =====  ======  =====  ==================================================
"""


@dataclass(frozen=True, slots=True)
class GrowthPoint:
    """One step of a thread's growth: posts, negatives and engagement gained in it."""

    start: datetime
    posts: int
    negative: int
    engagement: int


@dataclass(frozen=True, slots=True)
class ThreadFinding:
    """A negative, accelerating thread; ``evidence`` is JSON-serialisable."""

    thread_key: str
    source: str
    thread_id: str
    root_url: str
    root_text: str
    window_start: datetime
    window_end: datetime
    negative: int
    negative_previous: int
    posts: int
    engagement: int
    engagement_previous: int
    distinct_authors: int
    sources: tuple[str, ...]
    severity: Severity
    evidence: dict[str, Any]
    growth: tuple[GrowthPoint, ...]


def detect_spreading_threads(
    posts: Sequence[ThreadPost],
    snapshots: Sequence[EngagementSnapshot],
    now: datetime,
    params: ThreadParams,
) -> list[ThreadFinding]:
    """Threads that are negative and accelerating in the window ending at ``now``.

    ``posts`` are the recent mentions (any order; posts after ``now`` are ignored) and
    ``snapshots`` their engagement observations. Findings come most negative first.
    """
    now = utc(now)
    start = now - params.window
    previous_start = start - params.window
    posts = [p for p in posts if utc(p.published) < now]
    threads = _group_threads(posts)
    engagement = _Engagement(snapshots)
    stories: _StoryIndex | None = None
    findings: list[ThreadFinding] = []
    for (source, thread_id), members in threads.items():
        last = [p for p in members if utc(p.published) >= start]
        negatives = [p for p in last if p.negative]
        if len(negatives) < params.min_negative:
            continue
        if len(negatives) < params.min_negative_share * len(last):
            continue
        authors = {p.author or p.source_id for p in negatives}
        if len(authors) < params.min_authors:
            continue
        negative_previous = sum(
            1 for p in members if p.negative and previous_start <= utc(p.published) < start
        )
        eng_last = engagement.growth(members, start, now)
        eng_previous = engagement.growth(members, previous_start, start)
        by_negatives = len(negatives) >= params.growth_multiple * negative_previous
        by_engagement = (
            eng_last >= params.min_engagement and eng_last >= params.growth_multiple * eng_previous
        )
        if not (by_negatives or by_engagement):
            continue
        root = _root(members, thread_id)
        if stories is None:
            stories = _StoryIndex(posts, params.text_similarity)
        story = stories.sources_of(root)
        sources = tuple(sorted(story | {source}))
        cross_source = len(sources) >= 2
        severity: Severity = (
            "critical" if cross_source or len(negatives) >= params.critical_negative else "warning"
        )
        growth = tuple(_growth(members, engagement, now, params))
        key = f"{source}:{thread_id}"
        findings.append(
            ThreadFinding(
                thread_key=key,
                source=source,
                thread_id=thread_id,
                root_url=root.url,
                root_text=root.text,
                window_start=start,
                window_end=now,
                negative=len(negatives),
                negative_previous=negative_previous,
                posts=len(last),
                engagement=eng_last,
                engagement_previous=eng_previous,
                distinct_authors=len(authors),
                sources=sources,
                severity=severity,
                evidence={
                    "thread": key,
                    "root_url": root.url,
                    "window_start": start.isoformat(),
                    "window_end": now.isoformat(),
                    "negative": len(negatives),
                    "negative_previous": negative_previous,
                    "posts": len(last),
                    "engagement": eng_last,
                    "engagement_previous": eng_previous,
                    "distinct_authors": len(authors),
                    "sources": list(sources),
                    "accelerating_by": [
                        name
                        for name, hit in (
                            ("negatives", by_negatives),
                            ("engagement", by_engagement),
                        )
                        if hit
                    ],
                    "growth": [
                        [g.start.isoformat(), g.posts, g.negative, g.engagement] for g in growth
                    ],
                },
                growth=growth,
            )
        )
    findings.sort(key=lambda f: (-f.negative, f.thread_key))
    return findings


def normalise_url(url: str) -> str:
    """URL without scheme, ``www.``, fragment, trailing slash and tracking parameters."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    if parts.port and parts.port not in (80, 443):
        host = f"{host}:{parts.port}"
    path = parts.path.rstrip("/")
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_") and k.lower() not in _TRACKING_PARAMS
    )
    return f"{host}{path}?{urlencode(query)}" if query else f"{host}{path}"


def shingles(text: str) -> frozenset[str]:
    """Word 3-shingles of the text, lower-cased, accents and links removed."""
    text = _URL_RE.sub(" ", text)
    tokens = _WORD_RE.findall(fold(text))
    if len(tokens) < _SHINGLE:
        return frozenset([" ".join(tokens)]) if tokens else frozenset()
    return frozenset(" ".join(tokens[i : i + _SHINGLE]) for i in range(len(tokens) - 2))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard similarity of two sets (0 for two empty sets)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def _group_threads(posts: Iterable[ThreadPost]) -> dict[tuple[str, str], list[ThreadPost]]:
    by_id = {(p.source, p.source_id): p for p in posts}
    resolved: dict[tuple[str, str], str] = {}

    def thread_of(post: ThreadPost) -> str:
        # Walk up the parents we hold; iterative so a deep reply chain cannot overflow.
        chain: list[tuple[str, str]] = []
        in_chain: set[tuple[str, str]] = set()
        current = post
        while True:
            key = (current.source, current.source_id)
            if key in resolved:
                thread = resolved[key]
                break
            chain.append(key)
            in_chain.add(key)
            if current.thread_id is not None:
                thread = current.thread_id
                break
            parent = by_id.get((current.source, current.parent_id or ""))
            if parent is None or (parent.source, parent.source_id) in in_chain:
                # The root is not among the posts given (or the data loops): the top parent
                # id we know names the thread.
                thread = current.parent_id or current.source_id
                break
            current = parent
        for key in chain:
            resolved[key] = thread
        return thread

    threads: dict[tuple[str, str], list[ThreadPost]] = defaultdict(list)
    for post in by_id.values():
        threads[(post.source, thread_of(post))].append(post)
    return threads


def _root(members: list[ThreadPost], thread_id: str) -> ThreadPost:
    for post in members:
        if post.source_id == thread_id:
            return post
    # The root may be older than the posts we were given; the earliest one stands in for it.
    return min(members, key=lambda p: (utc(p.published), p.source_id))


class _Engagement:
    """Engagement (replies + reposts + likes + score) of a post at any time, interpolated."""

    def __init__(self, snapshots: Iterable[EngagementSnapshot]) -> None:
        series: dict[tuple[str, str], list[tuple[datetime, int]]] = defaultdict(list)
        for s in snapshots:
            # Views are left out: orders of magnitude above the rest and absent on most sources.
            series[(s.source, s.source_id)].append(
                (utc(s.observed), s.replies + s.reposts + s.likes + s.score)
            )
        self._series = {key: sorted(points) for key, points in series.items()}
        self._times = {key: [t for t, _ in points] for key, points in self._series.items()}

    def at(self, post: ThreadPost, moment: datetime) -> float:
        key = (post.source, post.source_id)
        points = self._series.get(key)
        published = utc(post.published)
        if not points or moment <= published:
            return 0.0
        i = bisect_right(self._times[key], moment)
        if i == len(points):
            return float(points[-1][1])
        # Between two observations (the first one after publication starting from zero)
        # engagement grows linearly: we know no better and it never jumps backwards.
        t0, v0 = points[i - 1] if i else (published, 0)
        t1, v1 = points[i]
        if t1 <= t0:
            return float(v1)
        return v0 + (v1 - v0) * ((moment - t0) / (t1 - t0))

    def growth(self, members: Iterable[ThreadPost], start: datetime, end: datetime) -> int:
        return round(sum(self.at(p, end) - self.at(p, start) for p in members))


class _StoryIndex:
    """Which sources carry the same story as a post: shared normalised URL or near-same text."""

    def __init__(self, posts: Sequence[ThreadPost], threshold: float) -> None:
        self._posts = posts
        self._threshold = threshold
        self._urls: dict[str, list[int]] = defaultdict(list)
        self._shingles: list[frozenset[str]] = []
        self._postings: dict[str, list[int]] = defaultdict(list)
        self._selves: list[str] = []
        for i, post in enumerate(posts):
            own = normalise_url(post.url) if post.url else None
            self._selves.append(own or "")
            for url in _urls_of(post, own):
                self._urls[url].append(i)
            sh = _story_shingles(post.text)
            self._shingles.append(sh)
            for s in sh:
                self._postings[s].append(i)

    def sources_of(self, root: ThreadPost) -> set[str]:
        found: set[str] = set()
        # The root's own post seen through another source (the same toot on a second Mastodon
        # instance, the same item in two feeds) is the same post, not the story spreading.
        itself = normalise_url(root.url) if root.url else None
        for url in _urls_of(root, itself):
            found |= {
                self._posts[i].source for i in self._urls.get(url, ()) if self._selves[i] != itself
            }
        query = _story_shingles(root.text)
        if query:
            # Prefix filtering over shingles ordered rarest first.
            ordered = sorted(query, key=lambda s: (len(self._postings[s]), s))
            prefix = len(ordered) - math.ceil(self._threshold * len(ordered)) + 1
            candidates = {i for s in ordered[:prefix] for i in self._postings[s]}
            for i in candidates:
                post = self._posts[i]
                if post.source in found or post.source == root.source or self._selves[i] == itself:
                    continue
                if jaccard(query, self._shingles[i]) >= self._threshold:
                    found.add(post.source)
        return found


def _urls_of(post: ThreadPost, own: str | None) -> set[str]:
    """Normalised links in the post's text, plus `own`: its URL, normalised (None without one)."""
    urls = {normalise_url(u.rstrip(".,;:!?)]»”’")) for u in _URL_RE.findall(post.text)}
    if own is not None:
        urls.add(own)
    return urls


def _story_shingles(text: str) -> frozenset[str]:
    sh = shingles(text)
    return sh if len(sh) >= _MIN_STORY_TOKENS - _SHINGLE + 1 else frozenset()


def _growth(
    members: list[ThreadPost], engagement: _Engagement, now: datetime, params: ThreadParams
) -> list[GrowthPoint]:
    points = []
    for k in range(params.series_points, 0, -1):
        start, end = now - params.series_step * k, now - params.series_step * (k - 1)
        inside = [p for p in members if start <= utc(p.published) < end]
        points.append(
            GrowthPoint(
                start=start,
                posts=len(inside),
                negative=sum(1 for p in inside if p.negative),
                engagement=engagement.growth(members, start, end),
            )
        )
    return points
