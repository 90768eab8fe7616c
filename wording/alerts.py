"""An alert in words, from its rule and typed params: the one place alert texts are made.

The store renders the text it keeps and logs (Vietnamese) and the English beside it; the console and
the CLI render with the names they have; the wall page shows the server's. Codes become names
(indicator, area, agency, source), every figure goes through ``wording.numbers`` with its
indicator's unit and decimals, and figures shown side by side (a revision and what it replaced, a
sum and the national figure) get just the digits that tell them apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from wording.catalogue import CATALOGUE, label
from wording.dates import day, moment, period
from wording.names import Names
from wording.numbers import Lang, number
from wording.units import with_unit


class Missing(KeyError):
    """The alert lacks a param its text needs (an alert stored by an older version)."""


def alert_text(
    rule: str, params: Mapping[str, Any], lang: Lang, names: Names, *, subject: str = "", severity: str = ""
) -> str:
    """The text of an alert of ``rule`` (``Missing`` if a param its text needs is absent)."""
    words = _Words(params, lang, names, subject)
    render = _RULES.get(rule)
    if render is None:
        return label("unknown", lang, None, rule=rule, subject=subject)
    return render(words, severity)


def alert_text_or(fallback: str, rule: str, params: Mapping[str, Any], lang: Lang, names: Names, **kw: str) -> str:
    """``alert_text``, or ``fallback`` (the server's stored text) when the params are not enough."""
    try:
        return alert_text(rule, params, lang, names, **kw)
    except Missing:
        return fallback


class _Words:
    """The params of one alert as words in one language."""

    def __init__(self, params: Mapping[str, Any], lang: Lang, names: Names, subject: str) -> None:
        self.p = params
        self.lang = lang
        self.names = names
        self.subject = subject

    def need(self, name: str) -> Any:
        value = self.p.get(name)
        if value is None:
            raise Missing(name)
        return value

    def label(self, key: str, count: int | None = None, /, **values: object) -> str:
        return label(key, self.lang, count, **values)

    def about_figure(self, key: str, /, **values: object) -> str:
        """The text of an alert about one figure: its indicator, area and period named, and ``values``."""
        return self.label(key, indicator=self.indicator(), area=self.area(), period=self.period(), **values)

    def indicator(self) -> str:
        return self.names.indicator(self.need("indicator"), self.lang)

    def area(self, default: str | None = None) -> str:
        code = self.p.get("area") or default
        if code is None:
            raise Missing("area")
        if code == "VN":
            return self.label("area.VN")
        return self.names.area(code, self.p.get("period"))

    def period(self) -> str:
        return period(str(self.need("period")), self.lang)

    def source(self, name: str = "source") -> str:
        code = self.p.get(name) or (self.subject if name == "source" else None)
        if code is None:
            raise Missing(name)
        agency = self.names.source_agency(code, self.p.get("agency") if name == "source" else None)
        if agency is None:
            return str(code)
        return self.label("source", code=code, agency=self.names.agency(agency, self.lang))

    def count(self, name: str = "count") -> str:
        return number(int(self.need(name)), self.lang, 0)

    def figures(self, *names: str) -> list[str]:
        """Figures of the alert's indicator shown side by side: its unit, its decimals, and the
        digits that tell them apart."""
        values = [float(self.need(n)) for n in names]
        code = self.p.get("indicator")
        decimals = self.names.decimals(code)
        unit = self.names.unit(code, self.lang)
        return [with_unit(number(v, self.lang, decimals, apart_from=values), unit) for v in values]

    def last_good(self) -> str:
        when = self.p.get("last_good")
        return self.label("last_good", time=moment(when)) if when else self.label("last_good.never")

    def run(self) -> str:
        run = self.p.get("run_id")
        return self.label("run", run=run) if run is not None else ""


def _failing(w: _Words, severity: str) -> str:
    failures = int(w.need("failures"))
    if severity == "critical":
        text = w.label("source.failing.open", source=w.source(), failures=w.count("failures"))
    else:
        text = w.label("source.failing", failures, source=w.source(), failures=w.count("failures"))
    status = w.p.get("http_status")
    return text + (w.label("source.failing.http", status=status) if status is not None else "")


def _rejected(w: _Words, _: str) -> str:
    count = int(w.need("count"))
    return w.label("source.rejected", count, source=w.source(), count=w.count()) + w.run()


def _down(w: _Words, _: str) -> str:
    return w.label("source.down", source=w.source(), failures=w.count("failures"), last_good=w.last_good())


def _stale(w: _Words, _: str) -> str:
    count = int(w.need("count"))
    return w.label("data.stale", count, source=w.source(), count=w.count(), last_good=w.last_good())


def _revised(w: _Words, _: str) -> str:
    before, after = w.figures("previous_value", "value")
    text = w.about_figure("figures.revised", previous_value=before, value=after)
    more = int(w.p.get("count") or 1) - 1
    if more > 0:
        text += w.label("figures.revised.more", more=number(more, w.lang, 0))
    return text + w.run()


def _write_failed(w: _Words, _: str) -> str:
    return w.label("storage.write_failed.disk_full" if w.p.get("reason") == "disk_full" else "storage.write_failed")


def _briefing_failed(w: _Words, _: str) -> str:
    return w.label("briefing.failed", period=w.period())


def watch_reasons(reason: str, threshold: float | None, lang: Lang) -> str:
    """Why the revision watch reported a revision (its ``reason`` param: ``threshold,closed``), in words."""
    reasons = []
    for code in reason.split(","):
        if code == "threshold" and threshold is not None:
            limit = number(float(threshold) * 100, lang) + "%"
            reasons.append(label("reason.threshold", lang, None, threshold=limit))
        elif f"reason.{code}" in CATALOGUE:
            reasons.append(label(f"reason.{code}", lang))
        else:
            reasons.append(code)
    return ", ".join(reasons)


def _watch(w: _Words, _: str) -> str:
    before, after = w.figures("previous_value", "value")
    reasons = watch_reasons(str(w.need("reason")), w.p.get("threshold"), w.lang)
    return w.about_figure(
        "revision.watch", previous_value=before, value=after, revision=w.need("revision"), reasons=reasons
    )


def _band(w: _Words, _: str) -> str:
    value, limit = w.figures("value", "threshold")
    reason = str(w.need("reason"))
    where = w.label(f"reason.{reason}") if f"reason.{reason}" in CATALOGUE else reason
    return w.about_figure("anomaly.band", value=value, where=where, threshold=limit)


def _outlier(w: _Words, _: str) -> str:
    value, before = w.figures("value", "previous_value")
    score, limit = number(float(w.need("score")), w.lang, 1), number(float(w.need("threshold")), w.lang)
    return w.about_figure("anomaly.outlier", value=value, previous_value=before, score=score, threshold=limit)


def _counter(w: _Words, _: str) -> str:
    before, after = w.figures("previous_value", "value")
    when = str(w.need("period"))
    shown = period(when, w.lang) if when[:4].isdigit() and len(when) <= 10 else moment(when)
    return w.label(
        "counter.decreased", indicator=w.indicator(), area=w.area("VN"), previous_value=before, value=after,
        period=shown,
    )  # fmt: skip


def _late(w: _Words, _: str) -> str:
    area, agency = w.p.get("area"), w.p.get("agency")
    who = w.names.area(area, w.p.get("period")) if area else w.names.agency(agency, w.lang) if agency else w.subject
    text = w.label(
        "report.late", who=who, indicator=w.indicator(), period=w.period(), due=day(str(w.need("due")), w.lang)
    )
    more = int(w.p.get("count") or 1) - 1
    if more > 0:
        text += w.label("report.late.more", more, more=number(more, w.lang, 0))
    return text


def _provinces(w: _Words, _: str) -> str:
    total, national = w.figures("value", "reference_value")
    count, expected = int(w.need("count")), w.p.get("expected")
    partial = expected is not None and count < int(expected)
    return w.label(
        "crosscheck.provinces.partial" if partial else "crosscheck.provinces",
        count=w.count(), expected=number(int(expected or count), w.lang, 0), indicator=w.indicator(),
        period=w.period(), value=total, reference_value=national, reference_source=w.source("reference_source"),
    )  # fmt: skip


def _derived(w: _Words, _: str) -> str:
    value, computed = w.figures("value", "reference_value")
    return w.label(
        "crosscheck.derived", indicator=w.indicator(), period=w.period(), value=value, source=w.source(),
        reference_value=computed,
    )  # fmt: skip


def _sources(w: _Words, _: str) -> str:
    value, other = w.figures("value", "reference_value")
    return w.about_figure(
        "crosscheck.sources", value=value, source=w.source(), reference_value=other,
        reference_source=w.source("reference_source"),
    )  # fmt: skip


_RULES: dict[str, Callable[[_Words, str], str]] = {
    "source.failing": _failing,
    "source.rejected": _rejected,
    "source.down": _down,
    "data.stale": _stale,
    "figures.revised": _revised,
    "storage.write_failed": _write_failed,
    "briefing.failed": _briefing_failed,
    "revision.watch": _watch,
    "anomaly.band": _band,
    "anomaly.outlier": _outlier,
    "counter.decreased": _counter,
    "report.late": _late,
    "crosscheck.provinces": _provinces,
    "crosscheck.derived": _derived,
    "crosscheck.sources": _sources,
}

# The rules whose alerts have a text (docs/rules.md lists them with their params).
RULES: tuple[str, ...] = tuple(_RULES)
