"""Alert messages in Spanish or English: a subject line, a plain-text body and an HTML body.

Rendering is pure: everything it shows was stored in the alert's evidence when the finding was
made, so a retried delivery shows exactly what the first attempt would have, but for the signed
acknowledge link, which the sender makes from its clock (:func:`ack_link`). Mention text comes
from strangers on the internet: the HTML escapes all of it, its bidirectional control characters
are removed in both bodies (`collectors.text.without_bidi`), and only http(s) links are shown or
linked.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from collectors.text import web_url, without_bidi
from timeutil import utc
from vigia.access.links import ack_url
from vigia.alerts.policy import AlertState
from vigia.storage.alerts import AlertRow

log = logging.getLogger(__name__)

Language = Literal["es", "en"]
SPARK = "▁▂▃▄▅▆▇█"
_RED = "#c0392b"
_GREY = "#95a5a6"
_BUTTON = "#0f766e"  # the dashboard's primary colour

_STRINGS: dict[str, dict[str, Any]] = {
    "es": {
        "severity": {"warning": "AVISO", "critical": "CRÍTICO"},
        "kind": {
            "negative_spike": "pico de menciones negativas",
            "spreading_thread": "hilo negativo en expansión",
            "source_unhealthy": "fuente sin datos",
            "inbox_overdue": "respuestas fuera de plazo",
            "inbox_escalation": "mención escalada",
        },
        "reason": {"escalate": "escalada", "reopen": "reabierta"},
        "spike": "{brand}: {negative} menciones negativas entre las {start} y las {end} ({tz}), "
        "frente a {expected} esperadas.",
        "share": "Proporción negativa: {share} (habitual: {baseline}). Puntuación z: {z}.",
        "long": "Últimas {hours} h: {negative} negativas frente a {expected} esperadas.",
        "hourly": "Negativas por hora, últimas {n} h (máx. {peak})",
        "thread": "Hilo en {source}: «{text}»",
        "thread_numbers": "Negativas en la última ventana: {negative} (ventana anterior: "
        "{previous}) · mensajes: {posts} · autores distintos: {authors} · interacciones "
        "ganadas: {engagement} (antes: {engagement_previous}).",
        "cross": "La misma historia circula también en: {sources}.",
        "growth": "Evolución (negativas cada {step} min, máx. {peak})",
        "top": "Menciones negativas destacadas",
        "source": "La fuente {source} lleva {failures} sondeos seguidos fallando; mientras "
        "tanto no se recogen sus menciones.",
        "last_error": "Último error: {error}",
        "last_success": "Último éxito: {when}",
        "never": "nunca",
        "inbox": "Bandeja de entrada",
        "inbox_overdue": "Elementos de la bandeja de entrada que han superado su plazo de "
        "respuesta: {overdue} (umbral del aviso: {threshold}).",
        "inbox_oldest": "El más antiguo espera desde hace {age} (publicado el {when}, {tz}).",
        "inbox_link": "Abrir la bandeja: {url}",
        "escalated_rule": "Escalada a responsables por la regla «{rule}».",
        "escalated_by": "Escalada a responsables por {who}.",
        "escalated_priority": "Prioridad {score}: {reasons}. Plazo de respuesta: {due} ({tz}).",
        "escalated_mention": "La mención",
        "item_link": "Abrir en la bandeja (asignar, responder, cerrar): {url}",
        "dashboard": "Ver en el panel: {url}",
        "dashboard_cli": "Ver en el panel: ejecute «vigia dashboard».",
        "ack": "Reconocer esta alerta (acknowledge; inicia sesión primero)",
        "ack_until": "Enlace válido hasta el {until} ({tz}).",
        "commands": "Alerta n.º {id}: «vigia alerts ack {id}» para confirmarla, "
        "«vigia alerts resolve {id}» para cerrarla.",
        "digest_subject": "[Vigía] Resumen diario · {n} avisos",
        "digest_intro": "Avisos de las últimas horas ({n}):",
        "percent": "{value} %",
    },
    "en": {
        "severity": {"warning": "WARNING", "critical": "CRITICAL"},
        "kind": {
            "negative_spike": "negative mention spike",
            "spreading_thread": "spreading negative thread",
            "source_unhealthy": "source not collecting",
            "inbox_overdue": "overdue replies",
            "inbox_escalation": "escalated mention",
        },
        "reason": {"escalate": "escalated", "reopen": "reopened"},
        "spike": "{brand}: {negative} negative mentions between {start} and {end} ({tz}), "
        "against {expected} expected.",
        "share": "Negative share: {share} (usual: {baseline}). z-score: {z}.",
        "long": "Last {hours} h: {negative} negative against {expected} expected.",
        "hourly": "Negative mentions per hour, last {n} h (max. {peak})",
        "thread": "Thread on {source}: “{text}”",
        "thread_numbers": "Negative posts in the last window: {negative} (window before: "
        "{previous}) · posts: {posts} · distinct authors: {authors} · engagement gained: "
        "{engagement} (before: {engagement_previous}).",
        "cross": "The same story is also on: {sources}.",
        "growth": "Growth (negative posts per {step} min, max. {peak})",
        "top": "Top negative mentions",
        "source": "Source {source} has failed {failures} polls in a row; its mentions are not "
        "being collected meanwhile.",
        "last_error": "Last error: {error}",
        "last_success": "Last success: {when}",
        "never": "never",
        "inbox": "Care inbox",
        "inbox_overdue": "Care inbox items past their response target: {overdue} (alert "
        "threshold: {threshold}).",
        "inbox_oldest": "The oldest has been waiting {age} (published {when}, {tz}).",
        "inbox_link": "Open the inbox: {url}",
        "escalated_rule": "Escalated to management by the rule “{rule}”.",
        "escalated_by": "Escalated to management by {who}.",
        "escalated_priority": "Priority {score}: {reasons}. Reply due by {due} ({tz}).",
        "escalated_mention": "The mention",
        "item_link": "Open it in the inbox (assign, answer, close): {url}",
        "dashboard": "Open the dashboard: {url}",
        "dashboard_cli": "Open the dashboard: run `vigia dashboard`.",
        "ack": "Acknowledge this alert (sign in first)",
        "ack_until": "Link valid until {until} ({tz}).",
        "commands": "Alert #{id}: `vigia alerts ack {id}` to acknowledge, "
        "`vigia alerts resolve {id}` to resolve.",
        "digest_subject": "[Vigía] Daily digest · {n} warnings",
        "digest_intro": "Warnings of the last hours ({n}):",
        "percent": "{value}%",
    },
}


@dataclass(frozen=True, slots=True)
class Rendered:
    """One message ready for any transport."""

    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True)
class AckLink:
    """An alert's signed acknowledge link, and the moment it stops working."""

    url: str
    expires: datetime


@dataclass(frozen=True, slots=True)
class _Section:
    """A piece of the body: a paragraph, a chart, a list of mentions or a button (`url`)."""

    kind: Literal["p", "chart", "mentions", "link", "button"]
    text: str = ""
    values: tuple[float, ...] = ()
    items: tuple[dict[str, Any], ...] = ()
    url: str = ""
    note: str = ""


def ack_link(
    alert: AlertRow, public_url: str, now: datetime, lifetime: timedelta
) -> AckLink | None:
    """`alert`'s acknowledge link, valid for `lifetime` from `now`; None once it is acknowledged
    or resolved, or with links off (no VIGIA_SECRET_KEY, or one too short: logged, not raised, so
    the alert still goes out)."""
    if alert.state is not AlertState.OPEN:
        return None
    try:
        url = ack_url(public_url, alert.id, now, lifetime)
    except ValueError as exc:
        log.warning("alert %d: sent without an acknowledge link: %s", alert.id, exc)
        return None
    return AckLink(url, utc(now) + lifetime) if url else None


def subject_line(alert: AlertRow, language: Language) -> str:
    """E.g. ``[Vigía] CRÍTICO · Vellora · pico de menciones negativas``."""
    t = _STRINGS[language]
    who = alert.brand or alert.subject or "?"
    if alert.rule == "source_unhealthy":
        who = alert.subject or who
    elif alert.rule == "inbox_overdue":
        who = t["inbox"]
    elif alert.rule == "inbox_escalation":
        who = f"{who} #{alert.evidence.get('item', '?')}"
    subject = (
        f"[Vigía] {t['severity'][alert.severity]} · {who} · {t['kind'].get(alert.rule, alert.rule)}"
    )
    reason = t["reason"].get(alert.notify_reason or "")
    return f"{subject} ({reason})" if reason else subject


def render_alert(
    alert: AlertRow,
    language: Language,
    timezone: str = "UTC",
    dashboard_url: str | None = None,
    ack: AckLink | None = None,
) -> Rendered:
    """The message announcing `alert`, with its acknowledge link `ack` if any."""
    sections = _sections(alert, language, ZoneInfo(timezone), dashboard_url, ack)
    subject = subject_line(alert, language)
    return Rendered(
        subject=subject,
        text=_text(sections),
        html=_html(subject, sections, alert.severity),
    )


def render_digest(
    alerts: Sequence[AlertRow],
    language: Language,
    timezone: str = "UTC",
    dashboard_url: str | None = None,
    acks: Mapping[int, AckLink] | None = None,
) -> Rendered:
    """One message listing several (warning) alerts, each with its headline numbers, its link
    on the dashboard and its acknowledge link in `acks` (by alert id) if any."""
    t = _STRINGS[language]
    zone = ZoneInfo(timezone)
    subject = t["digest_subject"].format(n=len(alerts))
    text_parts = [t["digest_intro"].format(n=len(alerts)), ""]
    html_parts = [f"<p>{_e(t['digest_intro'].format(n=len(alerts)))}</p>"]
    for alert in alerts:
        line = subject_line(alert, language).removeprefix("[Vigía] ")
        sections = [_sections(alert, language, zone, None)[0]]
        if dashboard_url:
            sections.append(_link_section(t, alert_link(dashboard_url, alert.id)))
        if ack := (acks or {}).get(alert.id):
            sections.append(_ack_section(t, ack, zone))
        body = [f"  {text}" for text in _text(sections).splitlines() if text]
        text_parts += [f"• {line}", *body, ""]
        html_parts.append(
            f'<div style="margin:0 0 14px 0"><b>{_e(line)}</b>'
            + "".join(_html_section(s) for s in sections)
            + "</div>"
        )
    link = _link_section(t, dashboard_url)
    text_parts.append(link.text)
    html_parts.append(_html_section(link))
    return Rendered(subject=subject, text="\n".join(text_parts), html=_page(subject, html_parts))


def sparkline(values: Sequence[float]) -> str:
    """Unicode bars scaled to the largest value; zero is the lowest bar."""
    peak = max(values, default=0)
    if peak <= 0:
        return SPARK[0] * len(values)
    return "".join(SPARK[min(len(SPARK) - 1, round(v / peak * (len(SPARK) - 1)))] for v in values)


def _sections(
    alert: AlertRow,
    language: Language,
    zone: ZoneInfo,
    dashboard_url: str | None,
    ack: AckLink | None = None,
) -> list[_Section]:
    t = _STRINGS[language]
    ev = alert.evidence
    num = _numbers(language)
    sections: list[_Section] = []
    if alert.rule == "negative_spike":
        sections.append(
            _Section(
                "p",
                t["spike"].format(
                    brand=alert.brand,
                    negative=ev.get("negative", "?"),
                    start=_clock(ev.get("window_start"), zone),
                    end=_clock(ev.get("window_end"), zone),
                    tz=zone.key,
                    expected=num(ev.get("expected", 0)),
                ),
            )
        )
        sections.append(
            _Section(
                "p",
                t["share"].format(
                    share=_percent(ev.get("share", 0), language),
                    baseline=_percent(ev.get("baseline_share", 0), language),
                    z=num(ev.get("z", 0)),
                ),
            )
        )
        if "long_negative" in ev:
            sections.append(
                _Section(
                    "p",
                    t["long"].format(
                        hours=num(ev.get("long_window_hours", 0)),
                        negative=ev["long_negative"],
                        expected=num(ev.get("long_expected", 0)),
                    ),
                )
            )
        hourly = [float(point[1]) for point in ev.get("hourly", [])]
        if hourly:
            label = t["hourly"].format(n=len(hourly), peak=num(max(hourly)))
            sections.append(_Section("chart", label, tuple(hourly)))
    elif alert.rule == "spreading_thread":
        sections.append(
            _Section(
                "p",
                t["thread"].format(
                    source=ev.get("source", alert.subject), text=_short(ev.get("root_text", ""))
                ),
            )
        )
        if root_url := web_url(ev.get("root_url")):
            sections.append(_Section("link", root_url))
        sections.append(
            _Section(
                "p",
                t["thread_numbers"].format(
                    negative=ev.get("negative", "?"),
                    previous=ev.get("negative_previous", "?"),
                    posts=ev.get("posts", "?"),
                    authors=ev.get("distinct_authors", "?"),
                    engagement=ev.get("engagement", "?"),
                    engagement_previous=ev.get("engagement_previous", "?"),
                ),
            )
        )
        others = [s for s in ev.get("sources", []) if s != ev.get("source")]
        if others:
            sections.append(_Section("p", t["cross"].format(sources=", ".join(others))))
        growth = [float(point[2]) for point in ev.get("growth", [])]
        if growth:
            label = t["growth"].format(
                step=ev.get("series_step_minutes", 30), peak=num(max(growth))
            )
            sections.append(_Section("chart", label, tuple(growth)))
    elif alert.rule == "source_unhealthy":
        sections.append(
            _Section(
                "p", t["source"].format(source=alert.subject, failures=ev.get("failures", "?"))
            )
        )
        sections.append(_Section("p", t["last_error"].format(error=ev.get("last_error", "?"))))
        when = ev.get("last_success_at")
        sections.append(
            _Section(
                "p",
                t["last_success"].format(when=_when(when, zone) if when else t["never"]),
            )
        )
    elif alert.rule == "inbox_overdue":
        text = t["inbox_overdue"].format(
            overdue=ev.get("overdue", "?"), threshold=ev.get("threshold", "?")
        )
        sections.append(_Section("p", text))
        if "oldest_age_minutes" in ev:
            age = _age(ev["oldest_age_minutes"])
            when = _when(ev.get("oldest_opened_at") or "", zone)
            sections.append(
                _Section("p", t["inbox_oldest"].format(age=age, when=when, tz=zone.key))
            )
        if dashboard_url:
            sections.append(_Section("p", t["inbox_link"].format(url=inbox_link(dashboard_url))))
    elif alert.rule == "inbox_escalation":
        sections += _escalation(t, ev, zone, dashboard_url)
    else:
        sections.append(_Section("p", f"{alert.rule}: {alert.subject}"))
    top = tuple(
        {**m, "published": _when(m["published"], zone) if m.get("published") else None}
        for m in ev.get("top", [])
    )
    if top and alert.rule != "inbox_escalation":  # an escalation quotes its mention above
        sections.append(_Section("mentions", t["top"], items=top))
    link = alert_link(dashboard_url, alert.id) if dashboard_url else None
    sections.append(_link_section(t, link))
    if ack is not None:
        sections.append(_ack_section(t, ack, zone))
    sections.append(_Section("p", t["commands"].format(id=alert.id)))
    return sections


def alert_link(dashboard_url: str, alert_id: int) -> str:
    """The dashboard's page for one alert: its Alertas page opened on that alert."""
    return f"{dashboard_url.rstrip('/')}/alerts?id={alert_id}"


def _escalation(
    t: dict[str, Any], ev: dict[str, Any], zone: ZoneInfo, dashboard_url: str | None
) -> list[_Section]:
    """An escalated inbox item: who or which rule escalated it, its priority and due time, the
    mention with its link, and the item on the dashboard."""
    why = (
        t["escalated_by"].format(who=ev["by"])
        if ev.get("by")
        else t["escalated_rule"].format(rule=ev.get("rule") or "?")
    )
    priority = t["escalated_priority"].format(
        score=f"{ev.get('priority', 0):.0f}",
        reasons=" · ".join(ev.get("reasons") or ()) or "—",
        due=_when(ev.get("due_at") or "", zone),
        tz=zone.key,
    )
    quoted = tuple(
        {**m, "published": _when(m["published"], zone) if m.get("published") else None}
        for m in ev.get("top", [])
    )
    sections = [_Section("p", why), _Section("p", priority)]
    if quoted:
        sections.append(_Section("mentions", t["escalated_mention"], items=quoted))
    if dashboard_url and "item" in ev:
        sections.append(
            _Section("p", t["item_link"].format(url=item_link(dashboard_url, ev["item"])))
        )
    return sections


def item_link(dashboard_url: str, item_id: int) -> str:
    """The dashboard's inbox page opened on one item."""
    return f"{dashboard_url.rstrip('/')}/inbox?item={item_id}"


def inbox_link(dashboard_url: str) -> str:
    """The dashboard's inbox page."""
    return f"{dashboard_url.rstrip('/')}/inbox"


def _link_section(t: dict[str, Any], dashboard_url: str | None) -> _Section:
    if dashboard_url:
        return _Section("p", t["dashboard"].format(url=dashboard_url))
    return _Section("p", t["dashboard_cli"])


def _ack_section(t: dict[str, Any], ack: AckLink, zone: ZoneInfo) -> _Section:
    until = t["ack_until"].format(until=_stamp(ack.expires, zone), tz=zone.key)
    return _Section("button", t["ack"], url=ack.url, note=until)


def _text(sections: Sequence[_Section]) -> str:
    lines: list[str] = []
    for s in sections:
        if s.kind in ("p", "link"):
            lines += [s.text, ""]
        elif s.kind == "button":
            lines += [f"{s.text}:", s.url, s.note, ""]
        elif s.kind == "chart":
            lines += [f"{s.text}:", sparkline(s.values), ""]
        else:
            lines.append(f"{s.text}:")
            for i, m in enumerate(s.items, 1):
                lines.append(f"{i}. {_byline(m)} — {_short(m.get('text', ''), 280)}")
                if url := web_url(m.get("url")):
                    lines.append(f"   {url}")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _html(subject: str, sections: Sequence[_Section], severity: str) -> str:
    colour = _RED if severity == "critical" else "#d35400"
    parts = [
        f'<h2 style="margin:0 0 12px 0;font-size:18px;color:{colour}">{_e(subject)}</h2>',
        *(_html_section(s) for s in sections),
    ]
    return _page(subject, parts)


def _html_section(s: _Section) -> str:
    if s.kind == "p":
        return f'<p style="margin:0 0 10px 0">{_linkify_dashboard(s.text)}</p>'
    if s.kind == "link":
        return f'<p style="margin:0 0 10px 0">{_anchor(s.text, s.text)}</p>'
    if s.kind == "button":
        return _button(s)
    if s.kind == "chart":
        return f'<p style="margin:12px 0 4px 0;color:#555">{_e(s.text)}</p>{_bars(s.values)}'
    items = "".join(
        '<li style="margin:0 0 8px 0">'
        f'<span style="color:#555;font-size:12px">{_e(_byline(m))}</span><br>'
        f"{_e(_short(m.get('text', ''), 280))}"
        + (f"<br>{_anchor(m['url'], m['url'])}" if web_url(m.get("url")) else "")
        + "</li>"
        for m in s.items
    )
    return f'<p style="margin:12px 0 4px 0"><b>{_e(s.text)}</b></p><ol>{items}</ol>'


def _button(s: _Section) -> str:
    """A link styled as a button, inline only, at least 48 px tall to be easy to tap on a phone."""
    style = (
        f"display:inline-block;padding:14px 20px;background:{_BUTTON};color:#ffffff;"
        "font-size:16px;line-height:20px;font-weight:bold;text-decoration:none;border-radius:6px"
    )
    return (
        f'<p style="margin:16px 0 6px 0"><a href="{_e(s.url)}" style="{style}">{_e(s.text)}</a></p>'
        f'<p style="margin:0 0 10px 0;color:#555;font-size:12px">{_e(s.note)}</p>'
    )


def _bars(values: Sequence[float]) -> str:
    """An inline bar chart as a one-row table: survives mail clients that strip CSS and images."""
    peak = max(values, default=0) or 1
    cells = "".join(
        '<td style="vertical-align:bottom;padding:0 1px">'
        f'<div style="width:8px;height:{max(1, round(v / peak * 48))}px;'
        f'background:{_RED if v == max(values) and v > 0 else _GREY}" title="{v:g}"></div></td>'
        for v in values
    )
    return (
        '<table role="presentation" cellspacing="0" cellpadding="0" '
        f'style="border-collapse:collapse;height:50px;margin:0 0 10px 0"><tr>{cells}</tr></table>'
    )


def _page(title: str, parts: Sequence[str]) -> str:
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title></head>"
        '<body style="font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#222;'
        f'max-width:640px">\n{body}\n</body></html>'
    )


def _anchor(url: str, label: str) -> str:
    # Only web links become links: a javascript: or data: URL in a feed stays inert text.
    if link := web_url(url):
        return f'<a href="{_e(link)}">{_e(label)}</a>'
    return _e(label)


def _linkify_dashboard(text: str) -> str:
    escaped = _e(text)
    for word in text.split():
        if word.startswith(("http://", "https://")):
            escaped = escaped.replace(_e(word), _anchor(word, word))
    return escaped


def _byline(m: dict[str, Any]) -> str:
    parts = [without_bidi(m.get("source") or ""), without_bidi(m.get("author") or "")]
    if m.get("published"):
        parts.append(str(m["published"]))
    return " · ".join(p for p in parts if p)


def _e(value: Any) -> str:
    return html.escape(without_bidi(value), quote=True)


def _short(text: str, limit: int = 200) -> str:
    flat = " ".join(without_bidi(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _numbers(language: Language) -> Any:
    def fmt(value: float) -> str:
        text = f"{float(value):.1f}".removesuffix(".0")
        return text.replace(".", ",") if language == "es" else text

    return fmt


def _age(minutes: int) -> str:
    """A waiting time in the largest units that read at a glance: 45 min, 3 h 20 min, 2 d 4 h."""
    days, rest = divmod(int(minutes), 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {mins} min" if hours else f"{mins} min"


def _percent(share: float, language: Language) -> str:
    return _STRINGS[language]["percent"].format(value=round(float(share) * 100))


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    return utc(datetime.fromisoformat(value))


def _clock(value: str | None, zone: ZoneInfo) -> str:
    moment = _parse(value)
    return moment.astimezone(zone).strftime("%H:%M") if moment else "?"


def _when(value: str, zone: ZoneInfo) -> str:
    moment = _parse(value)
    return _stamp(moment, zone) if moment else "?"


def _stamp(moment: datetime, zone: ZoneInfo) -> str:
    return utc(moment).astimezone(zone).strftime("%Y-%m-%d %H:%M")
