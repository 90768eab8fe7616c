"""Sample alerts of every rule the catalogue words, for the parity tests of the surfaces that show
them (the store, the CLI, the console, the wall page): revisions, large, small and negative figures,
a unit whose code changed name in 2025, counts of one and of many."""

from __future__ import annotations

import re
from typing import Any

from wording import RULES, Names
from wording.numbers import digits_apart

# (rule, severity, subject, params)
Sample = tuple[str, str, str, dict[str, Any]]

_FIGURE = {"indicator": "CPI_YOY", "area": "VN", "period": "2026-10", "source": "nso", "agency": "NSO"}

SAMPLES: list[Sample] = [
    ("source.failing", "warning", "mof", {"source": "mof", "agency": "MOF", "failures": 1, "http_status": 503}),
    ("source.failing", "warning", "cus", {"source": "cus", "agency": "CUS", "failures": 3}),
    ("source.failing", "critical", "mof", {"source": "mof", "agency": "MOF", "failures": 5, "http_status": 503}),
    ("source.rejected", "warning", "cus", {"source": "cus", "agency": "CUS", "count": 1200, "run_id": 7}),
    ("source.rejected", "warning", "p04", {"source": "p04", "count": 1, "run_id": 8}),
    ("source.down", "critical", "vnat", {"source": "vnat", "agency": "VNAT", "failures": 5}),
    (
        "source.down",
        "critical",
        "mof",
        {"source": "mof", "agency": "MOF", "failures": 2, "last_good": "2026-12-07T03:04:05+00:00"},
    ),
    (
        "data.stale",
        "warning",
        "sbv",
        {"source": "sbv", "agency": "SBV", "count": 3, "last_good": "2026-12-07T01:00:00Z"},
    ),
    (
        "figures.revised",
        "info",
        "nso",
        {
            **_FIGURE,
            "indicator": "RETAIL_SALES",
            "value": 1234567.4,
            "previous_value": 1234567.1,
            "count": 3,
            "run_id": 9,
        },
    ),
    ("figures.revised", "info", "nso", {**_FIGURE, "value": -1.111345, "previous_value": -1.11, "count": 1}),
    ("storage.write_failed", "critical", "database", {}),
    ("storage.write_failed", "critical", "database", {"reason": "disk_full"}),
    ("briefing.failed", "warning", "briefing/2026-11", {"period": "2026-11"}),
    (
        "revision.watch",
        "critical",
        "CPI_YOY/VN/2026-10/nso",
        {
            **_FIGURE,
            "value": 3.27,
            "previous_value": 3.2,
            "revision": 2,
            "reason": "threshold,closed",
            "threshold": 0.02,
        },
    ),
    (
        "anomaly.band",
        "critical",
        "CPI_YOY/VN/2026-10",
        {**_FIGURE, "value": 9.5, "threshold": 6.0, "reason": "critical_high"},
    ),
    (
        "anomaly.band",
        "critical",
        "GDP_GROWTH/VN/2026-Q3",
        {
            **_FIGURE,
            "indicator": "GDP_GROWTH",
            "period": "2026-Q3",
            "value": -0.3,
            "threshold": 0.0,
            "reason": "critical_low",
        },
    ),
    (
        "anomaly.outlier",
        "warning",
        "CPI_YOY/79/2026-10",
        {**_FIGURE, "area": "79", "value": 32.0, "previous_value": 3.2, "score": 41.27, "threshold": 5.0},
    ),
    (
        "counter.decreased",
        "warning",
        "PORTAL_DOSSIERS_SYNCED/VN",
        {
            "indicator": "PORTAL_DOSSIERS_SYNCED",
            "area": "VN",
            "period": "2026-12-07T08:00:00+07:00",
            "source": "portal",
            "value": 590339387.0,
            "previous_value": 655932646.0,
        },
    ),
    (
        "report.late",
        "warning",
        "04",
        {"area": "04", "indicator": "UNEMPLOYMENT_RATE", "period": "2026-Q3", "due": "2026-10-25", "count": 1},
    ),
    (
        "report.late",
        "warning",
        "82",
        {"area": "82", "indicator": "CPI_YOY", "period": "2024-05", "due": "2024-06-25", "count": 6},
    ),  # 82 was Tiền Giang then, Đồng Tháp now
    (
        "report.late",
        "warning",
        "SBV",
        {"agency": "SBV", "indicator": "CREDIT_GROWTH", "period": "2026-10", "due": "2026-11-25", "count": 2},
    ),
    (
        "crosscheck.provinces",
        "warning",
        "EXPORTS/2026-10",
        {
            "indicator": "EXPORTS",
            "period": "2026-10",
            "value": 48.515000000000015,
            "count": 33,
            "expected": 34,
            "reference_value": 45.008,
            "reference_source": "cus",
        },
    ),
    (
        "crosscheck.provinces",
        "warning",
        "RETAIL_SALES/2026-10",
        {
            "indicator": "RETAIL_SALES",
            "period": "2026-10",
            "value": 612345.67,
            "count": 34,
            "expected": 34,
            "reference_value": 598000.0,
            "reference_source": "nso",
        },
    ),
    (
        "crosscheck.derived",
        "warning",
        "TRADE_BALANCE/VN/2026-10",
        {
            "indicator": "TRADE_BALANCE",
            "area": "VN",
            "period": "2026-10",
            "source": "cus",
            "value": -1.25,
            "reference_value": -1.2345,
        },
    ),
    (
        "crosscheck.sources",
        "warning",
        "CPI_YOY/VN/2026-10",
        {**_FIGURE, "value": 3.2, "reference_value": 3.21, "reference_source": "sbv"},
    ),
]

assert {s[0] for s in SAMPLES} == set(RULES), "every rule the catalogue words has a sample"


FIGURE_PARAMS = ("value", "previous_value", "reference_value", "threshold")


def check_text(text: str, lang: str, sample: Sample, names: Names) -> None:
    """What no surface may show in an alert's text: a raw code where the catalogue has a name, a
    float's repr, or more decimals than the indicator's (plus those that tell a revision apart)."""
    p = sample[3]
    assert text and "{" not in text and "}" not in text, text
    if p.get("indicator") in names.indicators:
        assert p["indicator"] not in text, f"code {p['indicator']} where its name belongs: {text}"
        assert names.indicator(p["indicator"], lang) in text, text  # type: ignore[arg-type]
    code = str(p.get("area", ""))
    if code in names.areas and code != names.area(code):
        assert not re.search(rf"(?<![\w/.,:]){re.escape(code)}(?![\w/.,:])", text), f"area code {code}: {text}"
    agency = p.get("agency")
    if agency in names.agencies:
        assert not re.search(rf"(?<![\w]){agency}(?![\w])", text), f"agency code {agency}: {text}"
    for name, value in p.items():
        # A float's repr, where it is not what the formatter writes anyway ("-1.25" is both).
        if isinstance(value, float) and (len(repr(value)) > 8 or repr(value).endswith(".0")):
            raw = rf"(?<![\d]){re.escape(repr(value))}(?![\d])"
            assert not re.search(raw, text), f"{name}={value!r} printed raw: {text}"
    decimals = names.decimals(p.get("indicator"))
    figures = [float(p[k]) for k in FIGURE_PARAMS if k in p and k != "threshold"]
    allowed = max(digits_apart(figures, decimals), 2)  # 2: a z-score, a threshold in percent
    mark = "," if lang == "vi" else "."
    group = "." if lang == "vi" else ","
    for m in re.finditer(rf"\d{{1,3}}(?:\{group}\d{{3}})*(?:\{mark}(\d+))?", text):
        assert len(m[1] or "") <= allowed, f"{m[0]!r} has more than {allowed} decimals: {text}"
