"""Spreading negative threads: hand-made threads; comments say why each is flagged or not."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from analysis.threads import (
    PRESETS,
    EngagementSnapshot,
    ThreadPost,
    detect_spreading_threads,
    jaccard,
    normalise_url,
    shingles,
)

MEDIUM = PRESETS["medium"]
NOW = datetime(2024, 3, 4, 12, 0, tzinfo=UTC)
M = timedelta(minutes=1)


def post(
    sid: str,
    minutes_ago: float,
    negative: bool = False,
    author: str | None = None,
    *,
    thread: str | None = "root",
    parent: str | None = "root",
    source: str = "mastodon",
    text: str = "una respuesta",
    url: str | None = None,
) -> ThreadPost:
    return ThreadPost(
        source=source,
        source_id=sid,
        thread_id=thread,
        parent_id=parent,
        author=author or f"user-{sid}",
        published=NOW - minutes_ago * M,
        url=url or f"https://{source}.example/{sid}",
        text=text,
        compound=-0.6 if negative else 0.4,
        negative=negative,
    )


ROOT_TEXT = "Banco Brisa me ha cobrado dos veces la cuota y nadie en atención al cliente responde"


def root(minutes_ago: float = 150, **kw) -> ThreadPost:
    kw.setdefault("text", ROOT_TEXT)
    kw.setdefault("thread", "root")
    return post("root", minutes_ago, True, "ana", parent=None, **kw)


def replies(prefix: str, count: int, negative: bool, start: float, end: float, authors=None):
    """``count`` replies spread evenly from ``start`` to ``end`` minutes ago."""
    step = (start - end) / max(count, 1)
    return [
        post(
            f"{prefix}{i}",
            start - i * step,
            negative,
            authors[i % len(authors)] if authors else f"{prefix}-author-{i}",
        )
        for i in range(count)
    ]


def snapshots(sid: str, values: list[tuple[float, int]], source: str = "mastodon"):
    """Engagement observations (minutes ago, likes) of one post."""
    return [
        EngagementSnapshot(source, sid, NOW - minutes * M, 0, 0, likes, 0, 0)
        for minutes, likes in values
    ]


def test_negative_thread_accelerating_is_flagged_with_its_evidence():
    # 11:00-12:00 (the last window) has 8 negative replies from 8 people and 2 friendly ones;
    # the hour before had 2 negative replies: four times as many, so it is spreading.
    posts = [
        root(),
        *replies("p", 2, True, 110, 70),
        *replies("n", 8, True, 58, 2),
        *replies("f", 2, False, 50, 10),
    ]
    [finding] = detect_spreading_threads(posts, [], NOW, MEDIUM)
    assert finding.thread_key == "mastodon:root"
    assert finding.root_text == ROOT_TEXT
    assert (finding.negative, finding.negative_previous, finding.posts) == (8, 2, 10)
    assert finding.distinct_authors == 8
    assert finding.sources == ("mastodon",)
    assert finding.severity == "warning"
    assert (finding.window_start, finding.window_end) == (NOW - 60 * M, NOW)
    assert len(finding.growth) == MEDIUM.series_points
    # The sparkline ends with the last half hour: 4 negative of 5 posts (even spread).
    assert finding.growth[-1].start == NOW - 30 * M
    assert sum(g.negative for g in finding.growth[-2:]) == 8
    json.dumps(finding.evidence)


def test_viral_positive_launch_thread_is_not_flagged():
    # A launch announcement with 60 replies in the last hour (4 negative) and its likes going
    # from 100 to 2000: big and accelerating, but not negative.
    posts = [
        root(text="Lanzamos la nueva app de Banco Brisa"),
        *replies("a", 56, False, 59, 1),
        *replies("n", 4, True, 55, 5),
    ]
    snaps = snapshots("root", [(120, 50), (60, 100), (0, 2000)])
    assert detect_spreading_threads(posts, snaps, NOW, MEDIUM) == []


def test_popular_neutral_thread_is_not_flagged_until_it_turns_negative():
    # 40 replies in the last hour after 5 in the hour before; 10 are negative (25 %): a popular
    # thread with the usual grumbling. With 25 negative of 55 (45 %) it is still below the 50 %
    # share; with 30 of 60 it is a negative thread.
    def thread(negatives: int, neutral: int):
        return [
            root(text="¿Qué opináis del nuevo horario de Banco Brisa?"),
            *replies("old", 5, False, 110, 70),
            *replies("neu", neutral, False, 59, 1),
            *replies("neg", negatives, True, 58, 2),
        ]

    assert detect_spreading_threads(thread(10, 30), [], NOW, MEDIUM) == []
    assert detect_spreading_threads(thread(25, 30), [], NOW, MEDIUM) == []
    assert len(detect_spreading_threads(thread(30, 30), [], NOW, MEDIUM)) == 1


def test_one_angry_author_replying_many_times_is_not_spreading():
    # Ten negative replies in the last hour, but from two accounts: below min_authors (3).
    posts = [root(), *replies("n", 10, True, 58, 2, authors=["troll", "troll2"])]
    assert detect_spreading_threads(posts, [], NOW, MEDIUM) == []
    posts = [root(), *replies("n", 10, True, 58, 2, authors=["a", "b", "c"])]
    assert len(detect_spreading_threads(posts, [], NOW, MEDIUM)) == 1


def test_a_few_negative_replies_stay_below_the_minimum():
    # Seven negative replies from seven people on a new thread: all negative and infinitely
    # accelerating (none before), but below min_negative (8): a big brand gets such small
    # pile-ons every day. Eight are a spreading thread.
    assert detect_spreading_threads([root(), *replies("n", 7, True, 50, 5)], [], NOW, MEDIUM) == []
    assert len(detect_spreading_threads([root(), *replies("n", 8, True, 50, 5)], [], NOW, MEDIUM))


def test_steady_negative_thread_is_flagged_only_when_engagement_accelerates():
    # Eight negative replies in each of the last two hours: negative but not accelerating by
    # replies. If its engagement stays flat (+30 likes per hour) it is left alone; if the likes
    # jump from +30 to +400 in the last hour (snapshots at 120, 60 and 0 minutes ago) it is
    # spreading through reposts and likes rather than replies.
    posts = [root(150), *replies("p", 8, True, 118, 62), *replies("n", 8, True, 58, 2)]
    flat = snapshots("root", [(120, 100), (60, 130), (0, 160)])
    assert detect_spreading_threads(posts, flat, NOW, MEDIUM) == []
    jump = snapshots("root", [(120, 100), (60, 130), (0, 530)])
    [finding] = detect_spreading_threads(posts, jump, NOW, MEDIUM)
    assert (finding.engagement, finding.engagement_previous) == (400, 30)
    assert finding.evidence["accelerating_by"] == ["engagement"]


def test_engagement_between_snapshots_is_interpolated():
    # Observed at 0 likes 120 minutes ago and 240 likes just now: 120 of them fall in the last
    # hour, 120 in the one before: not accelerating although the only big snapshot is recent.
    posts = [root(150), *replies("p", 8, True, 118, 62), *replies("n", 8, True, 58, 2)]
    snaps = snapshots("root", [(120, 0), (0, 240)])
    assert detect_spreading_threads(posts, snaps, NOW, MEDIUM) == []


def test_same_story_on_another_source_makes_it_critical():
    # The Mastodon thread links a news story; a Reddit post links the same story with tracking
    # parameters, http and www; a Bluesky post copies the root's text with an extra word. Both
    # raise the severity. An unrelated Bluesky post sharing some words does not.
    news = "https://www.diario.example/economia/brisa-cobros/?utm_source=twitter&fbclid=abc"
    flagged = [
        root(text=f"{ROOT_TEXT} {news}"),
        *replies("p", 1, True, 100, 80),
        *replies("n", 8, True, 58, 2),
    ]
    reddit = post(
        "r1", 30, False, thread="r1", parent=None, source="reddit",
        text="Lo cuenta el diario", url="http://diario.example/economia/brisa-cobros",
    )  # fmt: skip
    bluesky = post(
        "b1", 20, True, thread="b1", parent=None, source="bluesky",
        text=f"Increíble: {ROOT_TEXT}",
    )  # fmt: skip
    unrelated = post(
        "b2", 20, True, thread="b2", parent=None, source="bluesky",
        text="Banco Brisa me ha cobrado una comisión por mirar el saldo, qué vergüenza",
    )  # fmt: skip

    [alone] = detect_spreading_threads([*flagged, unrelated], [], NOW, MEDIUM)
    assert alone.severity == "warning" and alone.sources == ("mastodon",)

    [by_url] = detect_spreading_threads([*flagged, reddit, unrelated], [], NOW, MEDIUM)
    assert by_url.severity == "critical" and by_url.sources == ("mastodon", "reddit")

    [by_text] = detect_spreading_threads([*flagged, bluesky], [], NOW, MEDIUM)
    assert by_text.severity == "critical" and by_text.sources == ("bluesky", "mastodon")

    # A long post that quotes the complaint inside a rant about other things holds every
    # shingle of the root but is not near-identical (Jaccard ~0.5): not the same story.
    quoting = post(
        "b3", 20, True, thread="b3", parent=None, source="bluesky",
        text=f"{ROOT_TEXT} y además en la oficina de la calle mayor tampoco saben nada de mi "
        "hipoteca ni del seguro del coche",
    )  # fmt: skip
    [quoted] = detect_spreading_threads([*flagged, quoting], [], NOW, MEDIUM)
    assert quoted.severity == "warning"


def test_the_root_seen_through_a_second_instance_is_not_a_second_source():
    # Two Mastodon instances both carry the same toot: same origin URL, same text. That is one
    # post read twice, not the story spreading to another source, so the alert stays a warning.
    flagged = [root(), *replies("p", 1, True, 100, 80), *replies("n", 8, True, 58, 2)]
    same_toot = post(
        "999", 150, True, "ana", thread="999", parent=None, source="mastodon-fosstodon",
        text=ROOT_TEXT, url="https://mastodon.example/root",
    )  # fmt: skip
    [finding] = detect_spreading_threads([*flagged, same_toot], [], NOW, MEDIUM)
    assert finding.severity == "warning" and finding.sources == ("mastodon",)


def test_replies_without_thread_id_join_the_thread_of_their_parent():
    # Some sources give only parent ids: a chain root <- a <- b... must still be one thread
    # (eight negative replies by eight people), not eight threads of one post each.
    posts = [root(90, thread=None)]
    parent = "root"
    for i in range(8):
        posts.append(post(f"c{i}", 50 - i, True, thread=None, parent=parent))
        parent = f"c{i}"
    [finding] = detect_spreading_threads(posts, [], NOW, MEDIUM)
    assert finding.thread_key == "mastodon:root"
    assert finding.negative == 8


def test_posts_after_now_are_not_seen():
    # Replaying at 12:00 must not see replies published at 12:10.
    posts = [root(), *replies("n", 8, True, -2, -10)]
    assert detect_spreading_threads(posts, [], NOW, MEDIUM) == []


def test_normalise_url_drops_tracking_scheme_www_and_trailing_slash():
    assert normalise_url("https://www.Diario.example/a/b/?utm_medium=x&id=7&fbclid=q#top") == (
        "diario.example/a/b?id=7"
    )
    assert normalise_url("http://diario.example/a/b") == "diario.example/a/b"
    assert normalise_url("https://diario.example/a/b?id=8") != "diario.example/a/b?id=7"


def test_shingles_fold_case_accents_and_links():
    a = shingles("Atención: ¡NADIE responde! https://x.example/1")
    b = shingles("atencion nadie responde")
    assert a == b == frozenset({"atencion nadie responde"})
    assert jaccard(shingles("uno dos tres cuatro"), shingles("uno dos tres cinco")) == 1 / 3
