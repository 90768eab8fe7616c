"""The briefing as words on a page: the gathered content (``content.py``) worded in one language,
laid out by a Jinja template (``briefing.html``, everything escaped), printed to PDF by WeasyPrint.

The HTML is the canonical content: it holds the ``as_of`` instant and never the time it was made,
so its sha256 is the briefing's ``content_digest``. The PDF's own dates are ``as_of`` too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from briefing.charts import chart
from briefing.content import Change, Completeness, Content, Figure, KeyRow, Provinces
from rules.reporting import Report
from storage import NATION, Alert, Observation
from wording import Lang, Names, alert_text_or, day, label, moment, number, period, with_unit
from wording.alerts import watch_reasons

SHOW_AREAS = 8  # areas named per reporting row; the rest counted
STATES = {"pending", "firing", "acknowledged", "resolved"}


@dataclass(frozen=True)
class Words:
    """The content's figures, names and dates in one language."""

    lang: Lang
    names: Names

    def value(self, obs: Observation | None, code: str) -> str:
        if obs is None:
            return label("briefing.no_figure", self.lang)
        return with_unit(number(obs.value, self.lang, self.names.decimals(code)), self.names.unit(code, self.lang))

    def change(self, now: Figure, then: Figure, code: str) -> str:
        """A rate's change in percentage points, any other figure's in per cent."""
        if now.obs is None or then.obs is None:
            return "—"
        unit = self.names.indicators[code].unit if code in self.names.indicators else ""
        if unit.startswith("%"):
            return label("briefing.points", self.lang, value=_signed(now.obs.value - then.obs.value, self.lang, 2))
        if then.obs.value == 0:
            return "—"
        return _signed((now.obs.value / then.obs.value - 1) * 100, self.lang, 1) + "%"

    def source(self, obs: Observation) -> str:
        """``Tổng cục Thống kê [nso]``; a province's own system by the province's name."""
        agency = self.names.source_agency(obs.source)
        who = self.names.agency(agency, self.lang) if agency else self.names.area(obs.area, obs.period)
        return label("source", self.lang, agency=who, code=obs.source)

    def area(self, code: str, at: str | None = None) -> str:
        return label("area.VN", self.lang) if code == NATION else self.names.area(code, at)

    def alert(self, a: Alert) -> dict[str, str]:
        fallback = a.message if self.lang == "vi" or not a.message_en else a.message_en
        params = a.params.model_dump(exclude_none=True)
        text = alert_text_or(fallback, a.rule, params, self.lang, self.names, subject=a.subject, severity=a.severity)
        state = label(f"state.{a.state.value}", self.lang) if a.state.value in STATES else a.state.value
        return {"severity": label(f"severity.{a.severity.value}", self.lang), "severity_code": a.severity.value,
                "state": state, "text": text}  # fmt: skip


def _signed(value: float, lang: Lang, decimals: int) -> str:
    text = number(value, lang, decimals)
    return text if text.startswith(("-", "−")) or text.strip("0,.") == "" else "+" + text


def key_rows(rows: Sequence[KeyRow], w: Words) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        code = r.indicator.code
        first, last = (r.series[0].period, r.series[-1].period) if r.series else ("", "")
        name = w.names.indicator(code, w.lang)
        out.append({
            "code": code, "name": name, "period": period(str(r.period), w.lang) if r.period else "—",
            "current": _cell(r.current, code, w), "previous": _cell(r.previous, code, w),
            "year_ago": _cell(r.year_ago, code, w), "change": w.change(r.current, r.previous, code),
            "change_year": w.change(r.current, r.year_ago, code),
            "chart": chart(r.series, w.lang, w.names.decimals(code), f"chart-{code}"),
            "caption": label("briefing.chart", w.lang, indicator=name, unit=w.names.unit(code, w.lang),
                             first=period(first, w.lang), last=period(last, w.lang)) if r.series else "",
        })  # fmt: skip
    return out


def _cell(f: Figure, code: str, w: Words) -> dict[str, Any]:
    return {"text": w.value(f.obs, code), "note": f.note}


def province_table(p: Provinces | None, w: Words) -> dict[str, Any] | None:
    if p is None:
        return None
    code = p.indicator.code
    rows = []
    for rank, r in enumerate(p.rows, 1):
        rows.append({
            "rank": rank if r.current.obs is not None else "", "code": r.code, "name": r.name,
            "formed_from": ", ".join(r.formed_from), "current": _cell(r.current, code, w),
            "previous": _cell(r.previous, code, w), "change": w.change(r.current, r.previous, code),
        })  # fmt: skip
    title = label(
        "briefing.provinces", w.lang, indicator=w.names.indicator(code, w.lang), period=period(str(p.period), w.lang)
    )
    note = label("briefing.provinces.note", w.lang, count=len(p.rows), day=day(p.on, w.lang))
    return {"title": title, "note": note, "rows": rows}


def reporting_rows(rows: Sequence[Completeness], w: Words) -> list[dict[str, Any]]:
    out = []
    for c in rows:
        if not c.expected:
            continue
        provinces = [a for a in c.expected if a != NATION]
        got = {*c.on_time, *c.late}
        parts = []
        if provinces:
            parts.append(label("reporting.provinces", w.lang, got=len(got - {NATION}), total=len(provinces)))
        if NATION in c.expected:
            parts.append(label("reporting.nation." + ("received" if NATION in got else "missing"), w.lang))
        out.append({
            "indicator": w.names.indicator(c.indicator, w.lang), "period": period(c.period, w.lang),
            "due": day(c.due, w.lang), "received": "; ".join(parts),
            "late": _some([_late(a, c.reports.get(a), c.period, w) for a in c.late], w.lang),
            "missing": label("reporting.not_due", w.lang) if c.not_due and not c.missing
            else _some([w.area(a, c.period) for a in c.missing], w.lang),
        })  # fmt: skip
    return out


def _some(names: Sequence[str], lang: Lang) -> str:
    """The first few names, the rest counted ("và 26 nơi khác")."""
    shown = list(names[:SHOW_AREAS])
    if len(names) > SHOW_AREAS:
        shown.append(label("reporting.more", lang, n=len(names) - SHOW_AREAS))
    return ", ".join(shown) or "—"


def _late(area: str, report: Report | None, at: str, w: Words) -> str:
    name = w.area(area, at)
    if report is None:
        return name
    return f"{name} ({label('reporting.clock.' + report.clock, w.lang)} {moment(report.at)})"


def change_rows(changes: Sequence[Change], w: Words) -> list[dict[str, Any]]:
    out = []
    for ch in changes:
        after = ch.after.obs
        assert after is not None
        watched = ch.reasons
        reasons = watch_reasons(watched.params.reason or "", watched.params.threshold, w.lang) if watched else "—"
        out.append({
            "figure": f"{w.names.indicator(after.indicator, w.lang)}, {w.area(after.area, after.period)}, "
                      f"{period(after.period, w.lang)}",
            "before": _cell(ch.before, after.indicator, w), "after": _cell(ch.after, after.indicator, w),
            "when": moment(after.collected_at), "reasons": reasons,
        })  # fmt: skip
    return out


def footnotes(content: Content, w: Words) -> list[dict[str, Any]]:
    out = []
    for obs_id, n in content.notes.numbers.items():
        obs = content.notes.observations[obs_id]
        digest = obs.payload_digest or ""
        text = label(
            "briefing.footnote", w.lang, indicator=w.names.indicator(obs.indicator, w.lang),
            area=w.area(obs.area, obs.period), period=period(obs.period, w.lang), value=w.value(obs, obs.indicator),
            source=w.source(obs), run=obs.run_id if obs.run_id is not None else "—", obs=obs.id,
            revision=obs.revision, short=digest[:12] or "—",
        )  # fmt: skip
        out.append({"n": n, "text": text, "digest": digest, "obs": obs.id, "revision": obs.revision})
    return out


def page(content: Content, lang: Lang, names: Names) -> dict[str, Any]:
    """Everything the template shows, worded."""
    w = Words(lang, names)
    as_of = moment(content.as_of, seconds=True)
    title = label("briefing.title", lang, period=period(str(content.period), lang))
    return {
        "lang": lang,
        "title": title,
        "subtitle": label("briefing.subtitle", lang),
        "as_of_text": label("briefing.as_of", lang, time=as_of),
        "created": content.as_of.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "label": lambda key, *a, **kw: label(key, lang, *a, **kw),
        "key": key_rows(content.key, w),
        "provinces": province_table(content.provinces, w),
        "reporting": reporting_rows(content.reporting, w),
        "changes": change_rows(content.changes, w),
        "more_changes": content.more_changes,
        "alerts": [w.alert(a) for a in content.alerts],
        "crosschecks": [w.alert(a) for a in content.crosschecks],
        "notes": footnotes(content, w),
        "stamp": label(
            "briefing.stamp.text",
            lang,
            as_of=as_of + " (UTC+7), " + content.as_of.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            seq=content.seq,
            epoch=content.epoch,
        ),
    }


def html(content: Content, lang: Lang, names: Names) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("briefing", "."), autoescape=True, trim_blocks=True, lstrip_blocks=True
    )
    data = page(content, lang, names)
    for row in data["key"]:
        row["chart"] = jinja2.utils.markupsafe.Markup(row["chart"])  # our own matplotlib SVG
    return env.get_template("briefing.html").render(**data)


def pdf(text: str) -> bytes:
    """The PDF of the briefing's HTML; its dates are the HTML's ``dcterms.created`` (the as_of)."""
    from weasyprint import HTML

    # WeasyPrint's SVG reader names every presentation attribute of matplotlib's styles it does not
    # apply through CSS (it applies them as attributes): a warning each, hundreds per page, of no use.
    engine = logging.getLogger("weasyprint")
    level = engine.level
    engine.setLevel(logging.ERROR)
    try:
        return bytes(HTML(string=text, base_url=".").write_pdf())
    finally:
        engine.setLevel(level)
