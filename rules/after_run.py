"""The rules after each collection run: the hook (``collectors.pipeline.AfterRun``) that the
composition root (cli/runtime.py) hangs on the collector, since collectors never import rules/.

After a failed run, the source's own alerts (``run_alerts.after_failure``); after a good one, its
alerts (``run_alerts.after_success``), then the ``[rules]`` on what the run touched
(``evaluation.evaluate_rules``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import httpx

from collectors import pipeline
from collectors.breaker import CircuitBreaker
from collectors.config import CollectorSettings, RulesSettings, SourceSettings
from rules import run_alerts
from rules.evaluation import RulesState, evaluate_rules
from storage import CollectionRun, Store

log = logging.getLogger(__name__)

RULE_PERIODS = 3  # per indicator, the newest periods of a run that the rules check after it


class RunRules:
    """``AfterRun`` for one collector's sources. ``settings`` None: the run's own alerts only."""

    def __init__(self, store: Store, sources: Iterable[SourceSettings], settings: RulesSettings | None = None) -> None:
        self.store = store
        self.sources = list(sources)
        self.settings = settings
        # What the rules keep between passes (shared with the rules timer, cli/runtime.py).
        self.state = RulesState()

    async def failed(self, run: CollectionRun, source: SourceSettings, breaker: CircuitBreaker) -> None:
        await run_alerts.after_failure(self.store, run, breaker, source.agency, settings=source)

    async def succeeded(self, run: CollectionRun, source: SourceSettings, tally: pipeline.RunTally) -> None:
        await run_alerts.after_success(
            self.store, run, tally.revisions, tally.first_rejection, source.agency, settings=source
        )
        await self._evaluate(source.name, tally, run.id)

    async def _evaluate(self, name: str, tally: pipeline.RunTally, run_id: int | None) -> None:
        """The `[rules]` on what this run touched: per indicator, the newest periods it carried
        (a first pull carries years of history: the timer pass sees the rest) and every period it
        revised, and the areas it carried (two sources' figures compared there). Never raises: a
        rule's failure is logged and the run's outcome stands."""
        if self.settings is None or not tally.touched:
            return
        revised: dict[str, set[str]] = {}
        for r in tally.revisions:
            revised.setdefault(r.indicator, set()).add(r.period)
        periods = {
            code: sorted(set(sorted(got, reverse=True)[:RULE_PERIODS]) | revised.get(code, set()))
            for code, got in tally.touched.items()
        }
        try:
            indicators = self.store.reference.listed(periods)
            await evaluate_rules(
                self.store,
                self.settings,
                self.sources,
                source=name,
                indicators=indicators,
                periods=periods,
                revised=tally.revisions,
                run_id=run_id,
                state=self.state,
                areas=tally.areas,
            )
        except Exception as exc:  # evaluate_rules logs its own rules; this is what is around them
            log.error("rules after run of %s failed: %r", name, exc)


class Collector(pipeline.Collector):
    """The collector that runs the rules after each run: what the serving process and
    ``collect --local`` build (cli/runtime.py), and the tests that watch a run's alerts."""

    def __init__(
        self,
        store: Store,
        sources: Iterable[SourceSettings],
        settings: CollectorSettings | None = None,
        *,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        sources = list(sources)
        self.run_rules = RunRules(store, sources)
        super().__init__(store, sources, settings, client=client, after_run=self.run_rules)

    @property
    def rules(self) -> RulesSettings | None:
        """The ``[rules]`` evaluated after each good run (None: none, the run's own alerts only)."""
        return self.run_rules.settings

    @rules.setter
    def rules(self, settings: RulesSettings | None) -> None:
        self.run_rules.settings = settings

    @property
    def rules_state(self) -> RulesState:
        return self.run_rules.state
