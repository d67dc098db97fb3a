"""The report as one self-contained HTML page (inline CSS and SVG, no script) and as plain text.

The page reads on a phone (one column, tables that turn into cards or scroll) and prints
cleanly. Mention text, authors, alert subjects and links come from strangers: all of it is
escaped, its bidirectional control characters removed, and only http(s) links are linked.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime, timedelta
from statistics import fmean
from zoneinfo import ZoneInfo

from collectors.text import web_url, without_bidi
from vigia.alerts.render import Rendered
from vigia.inbox.stats import ALL, Figures
from vigia.report import svg
from vigia.report.data import AlertHandling, Counts, Example, ReportData
from vigia.report.strings import Language, Words

_NUMERIC = ' class="n"'
EXAMPLE_CHARS = 400  # an example longer than this is cut: the report quotes, it does not archive
_CSS = """
:root { --ink: #1f2933; --muted: #5f6b7a; --line: #d9dee4; --red: #c0392b; --green: #1e8449;
  --accent: #0f766e; }
* { box-sizing: border-box; }
body { margin: 0; background: #f4f6f8; color: var(--ink);
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif; }
main { max-width: 960px; margin: 0 auto; padding: 16px; }
header h1 { margin: 0 0 4px; font-size: 1.6rem; }
header p, .note, footer { margin: 2px 0; color: var(--muted); font-size: .92rem; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px;
  margin: 16px 0; }
h2 { margin: 0 0 4px; font-size: 1.25rem; color: var(--accent); }
h3 { margin: 16px 0 4px; font-size: 1.05rem; }
figure { margin: 12px 0; }
figure svg { display: block; width: 100%; max-width: 480px; height: auto; }
figcaption { color: var(--muted); font-size: .85rem; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr)); gap: 12px;
  margin: 12px 0; }
.kpi { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; }
.kpi span { display: block; color: var(--muted); font-size: .85rem; }
.kpi strong { display: block; font-size: 1.6rem; line-height: 1.2; }
.kpi .worse { color: var(--red); } .kpi .better { color: var(--green); }
.scroll { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; font-size: .92rem; margin: 8px 0; }
th, td { padding: 6px 8px; border-bottom: 1px solid var(--line); text-align: left;
  vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
.n { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.tag { color: var(--muted); font-size: .85rem; }
blockquote { margin: 8px 0; padding: 8px 12px; border-left: 3px solid var(--red);
  background: #fbf3f2; overflow-wrap: anywhere; }
blockquote p { margin: 0 0 4px; }
blockquote footer { font-size: .82rem; }
a { color: var(--accent); overflow-wrap: anywhere; }
@media (max-width: 640px) {
  main { padding: 8px; }
  section { padding: 12px; margin: 12px 0; }
  header h1 { font-size: 1.3rem; }
  table.cards thead { display: none; }
  table.cards tr { display: block; border-bottom: 2px solid var(--line); padding: 4px 0; }
  table.cards td { display: flex; justify-content: space-between; gap: 12px; border: none;
    padding: 3px 0; text-align: right; }
  table.cards td::before { content: attr(data-label); color: var(--muted); text-align: left; }
  table.cards td:first-child { display: block; text-align: left; font-weight: 600; }
  table.cards td:first-child::before { content: none; }
  table.cards td.n { white-space: normal; }
  table.compact tr { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr));
    column-gap: 16px; }
  table.compact td:first-child { grid-column: 1 / -1; }
  table.compact td { font-size: .88rem; }
}
@media print {
  @page { margin: 15mm; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  body { background: #fff; font-size: 11pt; }
  main { max-width: none; padding: 0; }
  section { border: none; border-radius: 0; padding: 0; margin: 0 0 18pt; }
  h2, h3 { break-after: avoid; }
  figure, tr, blockquote, .kpi { break-inside: avoid; }
  .scroll { overflow: visible; }
  a { color: inherit; text-decoration: none; }
}
"""


def render(data: ReportData, language: Language, emailed: bool = False) -> Rendered:
    """The subject, the plain text and the HTML page of the report; `emailed` adds a line
    pointing to the attached copy, for mail programs that show no SVG."""
    words = Words(language)
    return Rendered(
        subject=words("subject", week=data.week),
        text=render_text(data, words),
        html=render_html(data, words, emailed),
    )


def render_html(data: ReportData, words: Words, emailed: bool = False) -> str:
    zone = ZoneInfo(data.timezone)
    sections = [
        _volume(data, words),
        _share_of_voice(data, words),
        _topics(data, words, zone),
        _alerts(data.alerts, words, zone),
        _response_times(data.response_times, words),
    ]
    intro = [_p(_period(data, words, zone)), _p(words("brands", brands=", ".join(data.brands)))]
    if data.competitors:
        intro.append(_p(words("competitors", brands=", ".join(data.competitors))))
    if emailed:
        intro.append(_p(words("open_file")))
    generated = words("generated", when=words.moment(data.generated_at, zone), tz=data.timezone)
    title = _e(words("title", week=data.week))
    return (
        f'<!DOCTYPE html><html lang="{words.language}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{_CSS}</style></head><body><main>"
        f"<header><h1>{title}</h1>{''.join(intro)}</header>{''.join(sections)}"
        f"<footer>{_e(generated)}</footer></main></body></html>"
    )


def _e(text: object) -> str:
    """Untrusted or not, text goes into the page only through here (or `_link`)."""
    return html.escape(without_bidi(text))


def _p(text: str, cls: str = "") -> str:
    return f'<p class="{cls}">{_e(text)}</p>' if cls else f"<p>{_e(text)}</p>"


def _period(data: ReportData, words: Words, zone: ZoneInfo) -> str:
    last = data.end - timedelta(seconds=1)  # late on Sunday, the week's last day
    return words(
        "period", first=words.date(data.start, zone), last=words.date(last, zone), tz=data.timezone
    )


def _section(anchor: str, title: str, note: str, body: Sequence[str]) -> str:
    return f'<section id="{anchor}"><h2>{_e(title)}</h2>{_p(note, "note")}{"".join(body)}</section>'


def _table(
    headers: Sequence[tuple[str, bool]], rows: Sequence[Sequence[str]], compact: bool = True
) -> str:
    """A table of already-escaped cells; headers are (text, numeric). At phone width each row
    becomes a card, its first cell the title and the others labelled by their headers, two to
    a line when `compact` (short figures), else one."""
    head = "".join(f"<th{_NUMERIC if n else ''}>{_e(h)}</th>" for h, n in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td{_NUMERIC if n else ""} data-label="{_e(h)}">{cell}</td>'
            for (h, n), cell in zip(headers, row, strict=True)
        )
        + "</tr>"
        for row in rows
    )
    table = f'<table class="{"cards compact" if compact else "cards"}"><thead><tr>{head}</tr>'
    return f'<div class="scroll">{table}</thead><tbody>{body}</tbody></table></div>'


def _figure(chart: str, caption: str) -> str:
    return f"<figure>{chart}<figcaption>{_e(caption)}</figcaption></figure>"


# --- volume and sentiment ------------------------------------------------------------------------


def _earlier(data: ReportData) -> list[Counts]:
    """The earlier weeks with any mention: weeks before Vigía ran say nothing about a trend."""
    return [w.counts for w in data.weeks[:-1] if w.counts.mentions]


def _volume(data: ReportData, words: Words) -> str:
    now, earlier = data.current, _earlier(data)
    cards = [
        _kpi(words("mentions"), words.number(now.mentions), _mentions_change(now, earlier, words)),
        _kpi(
            words("negative_share"),
            words.percent(now.negative_share, 1),
            _share_change(now, earlier, words),
        ),  # fmt: skip
        _kpi(words("average"), _average(now.average, words), _average_change(now, earlier, words)),
    ]
    series = [
        (words("negative"), svg.NEGATIVE),
        (words("neutral"), svg.NEUTRAL),
        (words("positive"), svg.POSITIVE),
    ]
    # Mentions in a language that is not scored get their own colour, when there are any.
    unscored = any(w.counts.unscored for w in data.weeks)
    if unscored:
        series.append((words("unscored"), svg.UNSCORED))
    columns = [
        (
            words("week_short", n=w.week[-2:]),
            (c.negative, c.neutral, c.positive, *((c.unscored,) if unscored else ())),
            words.percent(c.negative_share),
        )
        for w in data.weeks
        for c in [w.counts]
    ]
    chart = svg.stacked_columns(columns, series, words("trend_chart"), words.number)
    rows = [
        [
            _e(w.week),
            words.number(w.counts.mentions),
            words.number(w.counts.negative),
            words.percent(w.counts.negative_share, 1),
            _e(_average(w.counts.average, words)),
        ]
        for w in reversed(data.weeks)
    ]
    headers = [(words("week"), False), (words("mentions"), True), (words("negative"), True),
               (words("negative_share"), True), (words("average"), True)]  # fmt: skip
    return _section(
        "volume",
        words("volume"),
        words("volume_note", n=len(data.weeks) - 1),
        [
            f'<div class="kpis">{"".join(cards)}</div>',
            _figure(chart, words("trend_chart")),
            _table(headers, rows),
            _p(f"{words('average')}: {words('average_note')}", "note"),
        ],
    )


def _kpi(label: str, value: str, change: tuple[str, str]) -> str:
    text, tone = change
    return (
        f'<div class="kpi"><span>{_e(label)}</span><strong>{_e(value)}</strong>'
        f'<span class="{tone}">{_e(text)}</span></div>'
    )


def _average(value: float | None, words: Words) -> str:
    return words.signed(value, 2) if value is not None else "—"


def _mentions_change(now: Counts, earlier: list[Counts], words: Words) -> tuple[str, str]:
    if not earlier:
        return words("no_history"), ""
    mean = fmean(c.mentions for c in earlier)
    return words("vs_average", change=words.change(now.mentions, mean),
                 value=words.number(mean, 1 if mean % 1 else 0)), ""  # fmt: skip


def _share_change(now: Counts, earlier: list[Counts], words: Words) -> tuple[str, str]:
    if not earlier or now.negative_share is None:
        return words("no_history"), ""
    share = sum(c.negative for c in earlier) / sum(c.mentions for c in earlier)
    text = words("vs_average", change=words.points(now.negative_share, share),
                 value=words.percent(share, 1))  # fmt: skip
    return text, _tone(now.negative_share - share, worse_when_higher=True)


def _average_change(now: Counts, earlier: list[Counts], words: Words) -> tuple[str, str]:
    scores = [c.average for c in earlier if c.average is not None]
    if not scores or now.average is None:
        return words("no_history"), ""
    mean = fmean(scores)
    text = words("vs_average", change=words.signed(now.average - mean, 2),
                 value=_average(mean, words))  # fmt: skip
    return text, _tone(now.average - mean, worse_when_higher=False)


def _tone(difference: float, worse_when_higher: bool) -> str:
    if abs(difference) < 0.005:
        return ""
    return "worse" if (difference > 0) == worse_when_higher else "better"


# --- share of voice ------------------------------------------------------------------------------


def _share_of_voice(data: ReportData, words: Words) -> str:
    rows, bars = [], []
    for s in data.shares:
        name = s.brand + (f" ({words('competitor')})" if s.competitor else "")
        rows.append([
            _e(name), words.number(s.counts.mentions), words.percent(s.share, 1),
            _e(words.points(s.share, s.previous_share)), words.number(s.counts.negative),
            words.percent(s.counts.negative_share, 1),
        ])  # fmt: skip
        share = s.share or 0.0
        negative = share * (s.counts.negative_share or 0.0)
        colour = svg.COMPETITOR if s.competitor else svg.OURS
        bars.append((name, share, negative, colour, words.percent(s.share, 1)))
    legend = [(words("ours"), svg.OURS)]
    if data.competitors:
        legend.append((words("rivals"), svg.COMPETITOR))
    legend.append((words("negative"), svg.NEGATIVE))
    headers = [(words("brand"), False), (words("mentions"), True), (words("share"), True),
               (words("change_week"), True), (words("negative"), True),
               (words("negative_share"), True)]  # fmt: skip
    chart = svg.share_bars(bars, legend, words("share_chart"))
    body = [_figure(chart, words("share_chart")), _table(headers, rows)]
    if not data.competitors:
        body.append(_p(words("no_competitors"), "note"))
    return _section("share-of-voice", words("share_of_voice"), words("share_note"), body)


# --- complaint topics ----------------------------------------------------------------------------


def _topics(data: ReportData, words: Words, zone: ZoneInfo) -> str:
    topics = data.topics
    if not topics:
        return _section("topics", words("topics"), words("topics_note"), [_p(words("no_topics"))])
    named = [(words.topic(t.topic), t) for t in topics]
    chart = svg.paired_bars(
        [(name, t.negative, t.previous_negative) for name, t in named],
        [(data.week, svg.NEGATIVE), (data.weeks[-2].week, svg.NEGATIVE_BEFORE)],
        words("topics_chart"),
        words.number,
    )
    rows = [
        [_e(name), words.number(t.negative), words.number(t.previous_negative),
         _e(words.change(t.negative, t.previous_negative)), words.number(t.mentions)]
        for name, t in named
    ]  # fmt: skip
    headers = [(words("topic"), False), (words("negative"), True), (words("previous_week"), True),
               (words("change"), True), (words("mentions"), True)]  # fmt: skip
    examples = [
        f"<h3>{_e(words('examples', topic=name))}</h3>"
        + "".join(_example(m, words, zone) for m in t.examples)
        for name, t in named
        if t.examples
    ]
    body = [_figure(chart, words("topics_chart")), _table(headers, rows), *examples]
    return _section("topics", words("topics"), words("topics_note"), body)


def _example(mention: Example, words: Words, zone: ZoneInfo) -> str:
    text = " ".join(without_bidi(mention.text).split())
    if len(text) > EXAMPLE_CHARS:
        text = text[:EXAMPLE_CHARS].rstrip() + "…"
    about = [words.moment(mention.published_at, zone), mention.brand, mention.source]
    if mention.author:
        about.append(mention.author)
    meta = " · ".join(_e(part) for part in about)
    link = _link(mention.url)
    return (
        f"<blockquote><p>{_e(text)}</p><footer>{meta}{' · ' + link if link else ''}"
        "</footer></blockquote>"
    )


def _link(url: str) -> str:
    """A link to a web address, shown as itself; nothing for any other scheme."""
    safe = web_url(without_bidi(url))
    if not safe:
        return ""
    return f'<a href="{html.escape(safe)}" rel="noopener noreferrer nofollow">{_e(safe)}</a>'


# --- alerts --------------------------------------------------------------------------------------


def _alerts(alerts: Sequence[AlertHandling], words: Words, zone: ZoneInfo) -> str:
    if not alerts:
        return _section("alerts", words("alerts"), words("alerts_note"), [_p(words("no_alerts"))])
    rows = []
    for a in alerts:
        about = " · ".join(str(v) for v in dict.fromkeys([a.brand, a.subject]) if v)
        name = f"#{a.id} {words.named('rule', a.rule)}"
        rows.append([
            f'{_e(name)}<br><span class="tag">{_e(about)}</span>' if about else _e(name),
            _e(words.named("sev", a.severity)),
            _e(words.moment(a.opened_at, zone)),
            _e(_handled(a.acknowledged_at, a.acknowledged_by, words, zone, automatic=False)),
            _e(_handled(a.resolved_at, a.resolved_by, words, zone, automatic=True)),
            _e(words.named("state", a.state)),
        ])  # fmt: skip
    headers = [(words("alert"), False), (words("severity"), False), (words("opened"), False),
               (words("acknowledged"), False), (words("resolved"), False),
               (words("state_now"), False)]  # fmt: skip
    table = _table(headers, rows, compact=False)
    return _section("alerts", words("alerts"), words("alerts_note"), [table])


def _handled(
    when: datetime | None, who: str | None, words: Words, zone: ZoneInfo, automatic: bool
) -> str:
    if when is None:
        return words("nobody")
    by = who or (words("automatic") if automatic else words("nobody"))
    return words("by", when=words.moment(when, zone), who=by)


# --- response times ------------------------------------------------------------------------------


def _response_times(figures: Sequence[Figures], words: Words) -> str:
    title, note = words("response_times"), words("response_note")
    if not figures or figures[0].items == 0:
        return _section("response-times", title, note, [_p(words("no_items"))])
    rows = [
        [
            _e(_breakdown(f, words)),
            words.number(f.items),
            words.number(f.answered),
            _e(words.duration(f.median_first_response)),
            _e(words.duration(f.p90_first_response)),
            words.percent(f.within_target),
        ]
        for f in figures
    ]
    headers = [(words("dimension"), False), (words("items"), True), (words("answered"), True),
               (words("median"), True), (words("p90"), True),
               (words("within_target"), True)]  # fmt: skip
    return _section("response-times", title, note, [_table(headers, rows)])


def _breakdown(figures: Figures, words: Words) -> str:
    """ "Total", or the dimension and its value, e.g. "Canal: vellora-forum"."""
    name = words(f"dim_{figures.dimension}")
    return name if figures.value == ALL else f"{name}: {_value(figures, words)}"


def _value(figures: Figures, words: Words) -> str:
    if figures.value is None:
        return words("no_topic") if figures.dimension == "topic" else words("unassigned")
    return words.topic(figures.value) if figures.dimension == "topic" else figures.value


# --- plain text ----------------------------------------------------------------------------------


def render_text(data: ReportData, words: Words) -> str:
    """The same figures as lines of text, for mail programs that show no HTML."""
    zone = ZoneInfo(data.timezone)
    now = data.current
    lines = [
        words("title", week=data.week),
        _period(data, words, zone),
        words("brands", brands=", ".join(data.brands)),
        "",
        f"== {words('volume')}",
        f"{words('mentions')}: {words.number(now.mentions)} "
        f"({_mentions_change(now, _earlier(data), words)[0]})",
        f"{words('negative_share')}: {words.percent(now.negative_share, 1)} "
        f"({_share_change(now, _earlier(data), words)[0]})",
        f"{words('average')}: {_average(now.average, words)}",
        "",
        f"== {words('share_of_voice')}",
        *(
            f"{s.brand}{' (' + words('competitor') + ')' if s.competitor else ''}: "
            f"{words.percent(s.share, 1)} ({words.points(s.share, s.previous_share)}), "
            f"{words('negative_share')} {words.percent(s.counts.negative_share, 1)}"
            for s in data.shares
        ),
        "",
        f"== {words('topics')}",
        *(
            f"{words.topic(t.topic)}: {words.number(t.negative)} "
            f"({words('previous_week').lower()}: {words.number(t.previous_negative)}, "
            f"{words.change(t.negative, t.previous_negative)})"
            for t in data.topics
        ),
        *([] if data.topics else [words("no_topics")]),
        "",
        f"== {words('alerts')}",
        *(
            f"#{a.id} {words.named('rule', a.rule)} ({words.named('sev', a.severity)}), "
            f"{words('opened').lower()} {words.moment(a.opened_at, zone)}; "
            f"{words('state_now').lower()}: {words.named('state', a.state)}"
            for a in data.alerts
        ),
        *([] if data.alerts else [words("no_alerts")]),
        "",
        f"== {words('response_times')}",
        *_text_times(data.response_times, words),
        "",
        words("generated", when=words.moment(data.generated_at, zone), tz=data.timezone),
    ]
    return without_bidi("\n".join(lines)) + "\n"


def _text_times(figures: Sequence[Figures], words: Words) -> list[str]:
    if not figures or figures[0].items == 0:
        return [words("no_items")]
    return [
        f"{_breakdown(f, words)}: {words.number(f.items)} "
        f"{words('items').lower()}, {words('median').lower()} "
        f"{words.duration(f.median_first_response)}, {words('p90')} "
        f"{words.duration(f.p90_first_response)}, {words('within_target').lower()} "
        f"{words.percent(f.within_target)}"
        for f in figures
    ]
