"""From store events to feed messages, for one subscription filter.

The same code serves a live tick (encoded once per distinct filter and shared by every client on
that filter), a replay on resume, and the catch-up of a client that joined between ticks.

Ordering rule: messages leave in seq order. Observation changes are coalesced into a delta; an
alert or run event that comes in between first flushes the delta of the changes before it (with
``seq`` just below the alert's), so a client that has seen seq N has everything up to N.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from feed.protocol import AlertInfo, AlertMessage, Change, Delta, Filter, Message, RunInfo, RunStatus
from storage import NATION, Event, EventType, Indicator

SeriesKey = tuple[str, str, str]  # indicator, area, source


@dataclass
class Catalogue:
    """What filters are matched against: each indicator's category and owner, agency lineages."""

    indicators: Mapping[str, Indicator]
    lineage: Mapping[str, list[str]]  # agency -> itself and the agencies merged into it
    area_lineage: Mapping[str, list[str]] = field(default_factory=dict)  # unit -> itself and those merged into it

    def areas_of(self, flt: Filter) -> frozenset[str]:
        """The areas a filter admits (empty: all): a unit of 2025 covers the units merged into it."""
        out: set[str] = set()
        for code in flt.areas:
            out.update(self.area_lineage.get(code, [code]))
        return frozenset(out)

    def agencies_of(self, flt: Filter) -> frozenset[str]:
        """The agencies a filter admits (empty: all): each covers the agencies merged into it."""
        out: set[str] = set()
        for agency in flt.agencies:
            out.update(self.lineage.get(agency, [agency]))
        return frozenset(out)

    def indicators_of(self, flt: Filter, *, by_owner: bool = True) -> frozenset[str] | None:
        """The indicators a filter admits (None: all); ``by_owner=False``: by category and code
        alone (an alert's agency is matched on its own, ``Matcher.alert``)."""
        owners = self.agencies_of(flt) if by_owner else frozenset()
        if not (flt.categories or flt.indicators or owners):
            return None
        return frozenset(
            code
            for code, ind in self.indicators.items()
            if (not flt.categories or ind.category in flt.categories)
            and (not flt.indicators or code in flt.indicators)
            and (not owners or ind.owner in owners)
        )


# Rules whose one alert sums up several figures under one subject (the party owing reports, the
# source that revised): the figure their params name is the first of several and changes while
# the alert is open. Routed by it, an alert would leave a filter midway and stay there as it was.
NAMES_THE_FIRST = {"report.late": ("indicator",), "figures.revised": ("indicator", "area")}


@dataclass(frozen=True, slots=True)
class Route:
    """What an alert is about, as filters see it (docs/protocol.md, *Which alerts a filter gets*)."""

    indicator: str | None
    area: str  # the nation when its subject has no area of its own
    agency: str | None
    everyone: bool  # the centre's own (no indicator, area, agency or source): every screen's concern


def route(rule: str, params: Mapping[str, Any]) -> Route:
    """An alert's route from its rule and params (the same for every message of its life)."""
    everyone = not any(params.get(k) for k in ("indicator", "area", "agency", "source"))
    kept = dict(params)
    for name in NAMES_THE_FIRST.get(rule, ()):
        # A source that speaks for no agency is a province's own system: all its figures are of its
        # province, so the first one's area is the source's own and stays.
        if not (name == "area" and params.get("agency") is None):
            kept.pop(name, None)
    return Route(kept.get("indicator"), kept.get("area") or NATION, kept.get("agency"), everyone)


@dataclass
class Matcher:
    flt: Filter
    indicators: frozenset[str] | None
    areas: frozenset[str] | None
    severities: frozenset[str] | None
    # Alerts: their indicator by category and code, their agency (or their indicator's owner).
    topics: frozenset[str] | None = None
    agencies: frozenset[str] | None = None
    owners: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, flt: Filter, catalogue: Catalogue) -> Matcher:
        return cls(
            flt,
            catalogue.indicators_of(flt),
            catalogue.areas_of(flt) or None,
            frozenset(flt.severities) or None,
            catalogue.indicators_of(flt, by_owner=False),
            catalogue.agencies_of(flt) or None,
            {code: ind.owner for code, ind in catalogue.indicators.items()},
        )

    def observation(self, payload: Mapping[str, Any]) -> bool:
        return (
            self.flt.observations
            and (self.indicators is None or payload["indicator"] in self.indicators)
            and (self.areas is None or payload["area"] in self.areas)
        )

    @property
    def every_alert(self) -> bool:
        return self.severities is None and self.routes_all

    @property
    def routes_all(self) -> bool:
        """Every alert of its severities (``all_alerts``, or no field that routes them)."""
        return self.flt.all_alerts or (self.topics is None and self.agencies is None and self.areas is None)

    def alert(self, payload: Mapping[str, Any]) -> bool:
        """Whether an alert (as its event's payload) reaches this filter: routed as figures are."""
        if self.severities is not None and payload["severity"] not in self.severities:
            return False
        if self.routes_all:
            return True
        r = route(payload["rule"], payload.get("params") or {})
        if r.everyone:
            return True
        if self.topics is not None and r.indicator is not None and r.indicator not in self.topics:
            return False
        if self.agencies is not None and not {r.agency, self.owners.get(r.indicator or "")} & self.agencies:
            return False
        return self.areas is None or r.area in self.areas


def change_of(payload: Mapping[str, Any]) -> Change:
    return Change.model_validate({k: payload.get(k) for k in Change.model_fields})


@dataclass
class PendingDelta:
    """Changes waiting to be sent, coalesced per series (and per period for older revisions)."""

    changes: dict[SeriesKey, Change] = field(default_factory=dict)
    revisions: dict[tuple[str, str, str, str], Change] = field(default_factory=dict)
    dropped: int = 0  # changes superseded before they were sent

    def __bool__(self) -> bool:
        return bool(self.changes or self.revisions)

    def size(self) -> int:
        return len(self.changes) + len(self.revisions)

    def copy(self) -> PendingDelta:
        return PendingDelta(dict(self.changes), dict(self.revisions), self.dropped)

    def add(self, change: Change, newest_period: str | None) -> None:
        key = (change.indicator, change.area, change.source)
        if newest_period is not None and change.period < newest_period:
            if change.revision > 1:  # an older period was revised: worth telling
                rkey = (*key, change.period)
                old = self.revisions.get(rkey)
                if old is not None:
                    self.dropped += 1
                if old is None or old.revision <= change.revision:
                    self.revisions[rkey] = change
            return  # a back-filled older period: history, not state
        old = self.changes.get(key)
        if old is not None:
            self.dropped += 1
            if (old.period, old.revision) > (change.period, change.revision):
                return
        self.changes[key] = change

    def merge(self, other: PendingDelta) -> None:
        for change in other.changes.values():
            self.add(change, None)
        for rkey, change in other.revisions.items():
            old = self.revisions.get(rkey)
            if old is None or old.revision <= change.revision:
                self.revisions[rkey] = change

    def message(self, epoch: str, seq: int) -> Delta:
        return Delta(epoch=epoch, seq=seq, changes=list(self.changes.values()), revisions=list(self.revisions.values()))


@dataclass
class Built:
    """One message to send: ``delta`` keeps its pending changes so a slow client's queue can merge it."""

    seq: int
    message: Message
    delta: PendingDelta | None = None


def build(
    events: Iterable[Event],
    matcher: Matcher,
    epoch: str,
    newest: Mapping[SeriesKey, str],
    end_seq: int | None = None,
) -> list[Built]:
    """Messages for ``events`` (in seq order) under one filter; ``newest`` is each series' newest
    period as the hub knows it now; ``end_seq`` is the seq the batch covers (the last delta's)."""
    out: list[Built] = []
    pending = PendingDelta()
    last = 0
    for ev in events:
        last = ev.seq
        p = ev.payload
        if ev.type is EventType.OBSERVATION:
            if matcher.observation(p):
                pending.add(change_of(p), newest.get((p["indicator"], p["area"], p["source"])))
            continue
        if ev.type is EventType.ALERT:
            if not matcher.alert(p):
                continue
            msg: Message = AlertMessage(epoch=epoch, seq=ev.seq, alert=AlertInfo.model_validate(p))
        else:
            msg = RunStatus(
                epoch=epoch,
                seq=ev.seq,
                event="started" if ev.type is EventType.RUN_STARTED else "finished",
                run=RunInfo.model_validate(p),
            )
        if pending:
            out.append(Built(ev.seq - 1, pending.message(epoch, ev.seq - 1), pending))
            pending = PendingDelta()
        out.append(Built(ev.seq, msg))
    if pending:
        seq = end_seq if end_seq is not None else last
        out.append(Built(seq, pending.message(epoch, seq), pending))
    return out


def replay(events: Iterable[Event], matcher: Matcher, epoch: str, newest: dict[SeriesKey, str]) -> list[Built]:
    """Messages for a resume: every matching event as its own message, in seq order, nothing
    merged. A figure is a delta of its own (``seq`` its event's) in ``changes``, or in
    ``revisions`` when it revises a period older than one already replayed for its series; a
    back-filled older period (first revision) is left out, as in live deltas. ``newest`` holds
    each series' newest period replayed so far and is updated (it spans the pages of one resume)."""
    out: list[Built] = []
    for ev in events:
        p = ev.payload
        msg: Message
        if ev.type is EventType.OBSERVATION:
            if not matcher.observation(p):
                continue
            change = change_of(p)
            key = (change.indicator, change.area, change.source)
            seen = newest.get(key)
            if seen is None or change.period >= seen:
                newest[key] = change.period
                msg = Delta(epoch=epoch, seq=ev.seq, changes=[change])
            elif change.revision > 1:
                msg = Delta(epoch=epoch, seq=ev.seq, changes=[], revisions=[change])
            else:
                continue
        elif ev.type is EventType.ALERT:
            if not matcher.alert(p):
                continue
            msg = AlertMessage(epoch=epoch, seq=ev.seq, alert=AlertInfo.model_validate(p))
        else:
            event = "started" if ev.type is EventType.RUN_STARTED else "finished"
            msg = RunStatus(epoch=epoch, seq=ev.seq, event=event, run=RunInfo.model_validate(p))
        out.append(Built(ev.seq, msg))
    return out
