"""Every surface says the same thing: for every rule, in Vietnamese and English, on sample params
(revisions, large, small and negative figures, a unit renamed by the 2025 merger), the alert's text
as the CLI prints it, as the console shows it and as the wall page renders it in Chromium equals
the one catalogue's (wording/alerts.py); and none has a raw code where a name belongs, a float's repr
or more decimals than it needs. The wall page's Intl formatter writes the same digits as the
server's Babel one."""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from rich.text import Text
from textual.widgets import DataTable

from cli.config import load
from collectors.config import CollectorSettings
from console.app import OpscentreApp
from rules.after_run import Collector
from storage import Severity, Store
from storage.models import AlertParams
from tests.browser import chromium, open_display, require_browser
from tests.conftest import run_cli
from tests.feedkit import TOKENS, feed_server
from tests.wording_samples import SAMPLES, check_text
from wording import LANGS, Lang, alert_text, number

if TYPE_CHECKING:
    from playwright.async_api import Browser

pytestmark = pytest.mark.browser


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    require_browser()
    async with chromium() as b:
        yield b


async def test_the_cli_the_console_and_the_wall_word_every_alert_as_the_catalogue(
    tmp_path: Path, browser: Browser
) -> None:
    config = load(None)  # the built-in configuration: the CLI below reads the same
    db = tmp_path / "ops.db"
    store = await Store.open(db, source_agencies=config.source_agencies())
    async with (
        Collector(store, config.sources, CollectorSettings()) as runs,  # never run: its sources name agencies
        feed_server(db, store=store, runs=runs) as server,
    ):
        fired = {}
        for i, (rule, severity, subject, params) in enumerate(SAMPLES):
            alert = await store.alerts.fire(
                rule, f"{subject}#{i}", Severity(severity), params=AlertParams.model_validate(params)
            )
            assert alert is not None
            fired[alert.id] = SAMPLES[i]
        names = await store.reference.names()
        catalogue: dict[Lang, dict[int, str]] = {
            lang: {
                i: alert_text(s[0], s[3], lang, names, subject=f"{s[2]}#{n}", severity=s[1])
                for n, (i, s) in enumerate(fired.items())
            }
            for lang in LANGS
        }
        for lang in LANGS:
            for alert_id, sample in fired.items():
                check_text(catalogue[lang][alert_id], lang, sample, names)

        # The CLI, from the database, in each language.
        for lang in LANGS:
            result = run_cli("alerts", "--db", str(db), "--lang", lang, "--json", "--limit", "500")
            assert result.returncode == 0, result.stderr
            printed = {a["id"]: a["text"] for a in json.loads(result.stdout)}
            assert printed == catalogue[lang]
            listed = run_cli("alerts", "--db", str(db), "--lang", lang, "--limit", "500")
            assert listed.returncode == 0, listed.stderr
            codes = {code for text in catalogue[lang].values() for code in re.findall(r"\[[\w.-]+\]", text)}
            assert codes and all(code in listed.stdout for code in codes)  # the table (wrapped) reads no markup

        # The console, over the feed, in each language.
        for lang in LANGS:
            app = OpscentreApp(server.url, TOKENS["operator"], lang=lang, backoff=(0.2, 1.0))
            async with app.run_test(size=(200, 60)) as pilot:
                await pilot.press("4")
                table = app.query_one("#alerts-table", DataTable)

                def shown(table: DataTable[object] = table) -> dict[int, str]:
                    return {int(str(k.value)): _on_screen(table.get_row(k)[-1]) for k in table.rows}

                # Alerts come with the snapshot, the names with the catalogue's answer just after it.
                deadline = asyncio.get_running_loop().time() + 30
                while shown() != catalogue[lang] and asyncio.get_running_loop().time() < deadline:
                    await pilot.pause(0.05)
                assert shown() == catalogue[lang]

        # The wall page, in Chromium, in each language.
        async with open_display(browser, server) as display:
            await display.wait_state("auth")
            await display.enter_token(TOKENS["display"])
            await display.wait_state("live")
            for lang in LANGS:
                if lang == "en":
                    await display.page.locator("#lang-toggle").click()
                    await display.page.wait_for_function("window.__opscentre.lang === 'en'")
                for alert_id, text in catalogue[lang].items():
                    msg = display.page.locator(f'#ticker [data-alert-id="{alert_id}"] .msg')
                    assert (await msg.text_content()) == text, (lang, alert_id)
            assert display.errors == []
    await store.close()


# Values that try the formatters: ties, not-quite ties, negatives, tiny and huge, integers, zero.
VALUES = [0.0, -0.0, 0.125, 1.005, 2.5, -2.5, -0.001, 3.2212, 1.111345, -1234567.891, 1e-7, 123456789012.5, 7.0, 1e21]
DECIMALS = [None, 0, 1, 2, 3]
APART = [
    (1.11, [1.111345]), (1.1113, [1.111345, 1.11]), (3.22, [3.2212]), (-1.11, [-1.111345]), (1000.0, [1000.4]),
    (1e-7, [2e-7]),  # Decimal's "1E-7": digits written in full
]  # fmt: skip


async def test_the_walls_intl_formatter_writes_the_same_digits_as_the_servers_babel_one(
    tmp_path: Path, browser: Browser
) -> None:
    cases: list[tuple[float, int | None, list[float]]] = [(v, d, []) for v in VALUES for d in DECIMALS] + [
        (v, d, o) for v, o in APART for d in (None, 2)
    ]
    async with feed_server(tmp_path / "ops.db") as server, open_display(browser, server) as display:
        await display.page.wait_for_function("window.__opscentre !== undefined")
        for lang in LANGS:
            browser_texts = await display.page.evaluate(
                "([lang, cases]) => cases.map(([v, d, o]) => window.__opscentre.formatNumber(lang, v, d, o))",
                [lang, [[v, d, o] for v, d, o in cases]],
            )
            ours = [number(v, lang, d, apart_from=o) for v, d, o in cases]
            mismatches = [
                (c, b, p) for c, b, p in zip(cases, browser_texts, ours, strict=True) if b != p and not _nan(c[0])
            ]
            assert mismatches == [], mismatches


def _on_screen(cell: object) -> str:
    """A table cell's text as the screen shows it: a str cell is read as markup ("[mof]" would vanish)."""
    return cell.plain if isinstance(cell, Text) else Text.from_markup(str(cell)).plain


def _nan(value: float) -> bool:
    return isinstance(value, float) and math.isnan(value)
