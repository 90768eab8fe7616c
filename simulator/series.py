"""One published series and how precise its figures are.

A :class:`Series` holds the periods of one (indicator, area) with their first and official
vintages, the lasting overrides of revisions and a late reporter's hold; ``select`` is what a pull
of an endpoint returns from it. ``decimals`` and ``revision_size`` say how figures are rounded and
how far a revision moves them.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from simulator.reference import IndicatorRow

Value = float | int
# indicator, area, period, value, status, updated_at (this value's publication), published_at (the figure's first)
Record = tuple[str, str, str, Value, str, int, int]

_DECIMALS = {
    "VND/USD": 0, "doanh nghiệp": 0, "vụ": 0, "ca": 0,
    "nghìn lượt": 1, "nghìn tấn": 1,
    "tỷ USD": 3,  # provinces report in millions of USD: three decimals keep them
    "triệu người": 3,
}  # fmt: skip


def decimals(row: IndicatorRow) -> int:
    return _DECIMALS.get(row.unit, 2)


def rounded(v: float, d: int) -> Value:
    return round(v) if d == 0 else round(v, d)


# Size of the difference between the first (provisional) and the official value: relative for
# flows, stocks and levels, in points for rates.
_REVISION = {
    "GDP_GROWTH": 0.15, "GRDP_GROWTH": 0.3, "CPI_YOY": 0.06, "CPI_MOM": 0.04, "IIP_YOY": 0.4,
    "PUBLIC_INVESTMENT_DISBURSED": 0.4, "CREDIT_GROWTH": 0.08, "UNEMPLOYMENT_RATE": 0.03, "HI_COVERAGE": 0.1,
    "LEVEL4_SERVICE_SHARE": 0.3, "SI_PARTICIPANTS": 0.003, "UI_PARTICIPANTS": 0.003,
}  # fmt: skip


def revision_size(row: IndicatorRow) -> float:
    return _REVISION.get(row.code, 0.1 if row.kind == "rate" else 0.012)


@dataclass(slots=True)
class Series:
    """One (indicator, area): periods in order, first and official vintages, overrides."""

    indicator: str
    area: str
    index0: int  # position of the first period in the indicator's full history
    labels: list[str]
    t1: list[int]  # first publication (epoch seconds), increasing
    v1: list[Value]
    t2: list[int] | None  # official publication, increasing; None: no revision (daily)
    v2: list[Value] | None
    status1: str
    overrides: dict[int, list[tuple[int, Value, str]]] = field(default_factory=dict)  # by history position
    # A reporter that is late (scenarios): what it would publish in [since, until) comes out at
    # ``until`` instead; until HELD (the far future) it is withheld.
    hold: tuple[int, int] | None = None

    def published(self, as_of: int) -> int:
        return bisect_right(self.t1, as_of)

    def _shifted(self, t: int) -> int:
        h = self.hold
        return h[1] if h is not None and h[0] <= t < h[1] else t

    def first_published(self, k: int) -> int:
        """When the figure at position ``k`` first came out (a late reporter's: when it delivered)."""
        return self._shifted(self.t1[k])

    def effective(self, k: int, as_of: int) -> tuple[Value, str, int] | None:
        """The figure at position ``k`` as known at ``as_of``; None while it is not out."""
        t = self._shifted(self.t1[k])
        if t > as_of:
            return None
        value, status = self.v1[k], self.status1
        if self.t2 is not None and self.v2 is not None:
            t2 = max(t, self._shifted(self.t2[k]))
            if t2 <= as_of:
                value, status, t = self.v2[k], "official", t2
        for ot, ov, os_ in self.overrides.get(self.index0 + k, ()):
            if t <= ot <= as_of:
                value, status, t = ov, os_, ot
        return value, status, t

    def latest(self, as_of: int, status: str | None = None) -> int | None:
        """The position of the newest figure out at ``as_of`` (with that status, if given)."""
        for k in range(self.published(as_of) - 1, -1, -1):
            known = self.effective(k, as_of)
            if known is not None and (status is None or known[1] == status):
                return k
        return None

    def select(self, as_of: int, after: int | None) -> list[Record]:
        """The figures as published at ``as_of``, updated strictly after ``after`` if given."""
        ind, area, labels = self.indicator, self.area, self.labels
        k1 = bisect_right(self.t1, as_of)
        j1 = 0 if after is None else bisect_right(self.t1, after)
        if self.overrides or self.hold is not None:
            out = []
            for k in range(k1):
                known = self.effective(k, as_of)
                if known is not None and (after is None or known[2] > after):
                    value, status, t = known
                    out.append((ind, area, labels[k], value, status, t, self.first_published(k)))
            return out
        t1, v1, s1 = self.t1, self.v1, self.status1
        if self.t2 is None or self.v2 is None:
            return [(ind, area, labels[k], v1[k], s1, t1[k], t1[k]) for k in range(j1, k1)]
        t2, v2 = self.t2, self.v2
        k2 = min(bisect_right(t2, as_of), k1)
        j2 = 0 if after is None else bisect_right(t2, after)
        out = [(ind, area, labels[k], v2[k], "official", t2[k], t1[k]) for k in range(j2, k2)]
        out.extend((ind, area, labels[k], v1[k], s1, t1[k], t1[k]) for k in range(max(k2, j1), k1))
        return out
