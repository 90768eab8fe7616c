"""The leaders' briefings kept in the store (issue 19): kept, listed and read back on both engines,
append-only, made by the serving process on its schedule ([briefing], cli/briefings.py), listed
over the feed to operators and above and downloaded with a bearer token, audited.

Where a test is about keeping, listing and serving, ``tiny_make`` makes the document (a line per
indicator: quick, and its bytes known); one test runs the job with the real generator (``briefing.make``,
whose document tests/test_briefing.py checks page by page).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import errors

from briefing import Made
from cli.briefings import BriefingSchedule, covered_period
from cli.config import BriefingSettings, ConfigError, parse
from collectors.config import RulesSettings
from storage import Batch, ObservationIn, Store
from storage.repos.briefings import SCHEDULE
from storage.writes import StoreError
from tests.conftest import run_cli
from tests.feedkit import TOKENS, client, feed_server

BOTH_ENGINES = True
AS_OF = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


async def tiny_make(
    store: Store,
    *,
    period: str,
    as_of: datetime | None = None,
    lang: str = "vi",
    fmt: str = "pdf",
    indicators: Sequence[str] | None = None,
    rules: RulesSettings | None = None,
) -> Made:
    """A briefing of the store's current figures of ``indicators`` (a line each), as HTML or 'PDF'."""
    as_of = as_of or datetime.now(UTC)
    lines = [f"{lang} {period} as of {as_of.isoformat()}", *(indicators or ["(key indicators)"])]
    body = "\n".join(lines).encode()
    media = "application/pdf" if fmt == "pdf" else "text/html; charset=utf-8"
    return Made(body, media, hashlib.sha256(body).hexdigest(), period, as_of, lang, fmt)


async def test_keep_list_get_and_body_round_trip(store: Store) -> None:
    made = await tiny_make(store, period="2026-11", as_of=AS_OF, lang="vi", fmt="pdf")
    kept = await store.briefings.keep(made, "an")
    assert (kept.period, kept.lang, kept.format, kept.as_of) == ("2026-11", "vi", "pdf", AS_OF)
    assert (kept.content_digest, kept.size, kept.made_by) == (made.content_digest, len(made.body), "an")
    assert await store.briefings.get(kept.id) == kept
    assert await store.briefings.body(kept.id) == made.body
    assert await store.briefings.get(kept.id + 1) is None and await store.briefings.body(kept.id + 1) is None

    # Kept again at the same as_of: the one kept; the other language is a briefing of its own.
    assert await store.briefings.keep(made, SCHEDULE) == kept
    en = await store.briefings.keep(await tiny_make(store, period="2026-11", as_of=AS_OF, lang="en"), SCHEDULE)
    assert [b.id for b in await store.briefings.listed()] == [en.id, kept.id]
    assert [b.id for b in await store.briefings.listed(limit=1)] == [en.id]

    # Made again at the same as_of with other content: a defect, refused, the kept one stays.
    other = Made(b"other", made.media_type, "0" * 64, made.period, made.as_of, made.lang, made.fmt)
    with pytest.raises(StoreError, match="the same as_of must give the same content"):
        await store.briefings.keep(other, SCHEDULE)
    assert await store.briefings.body(kept.id) == made.body


@pytest.mark.parametrize(
    "change", ["UPDATE briefings SET made_by = 'someone else'", "DELETE FROM briefings", "TRUNCATE briefings"]
)
async def test_briefings_are_append_only_on_postgresql(pg_url: str, change: str) -> None:
    store = await Store.open(pg_url)
    try:
        await store.briefings.keep(await tiny_make(store, period="2026-11", as_of=AS_OF), SCHEDULE)
    finally:
        await store.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        before = conn.execute("SELECT * FROM briefings").fetchall()
        with pytest.raises(errors.ObjectNotInPrerequisiteState, match="append-only"):
            conn.execute(change)
        assert conn.execute("SELECT * FROM briefings").fetchall() == before


def test_the_period_covered_is_the_last_whole_one() -> None:
    at = datetime(2026, 1, 1, 6, tzinfo=UTC)
    assert covered_period(BriefingSettings(), at) == "2025-12"
    assert covered_period(BriefingSettings(period="previous quarter"), at) == "2025-Q4"
    assert covered_period(BriefingSettings(period="previous year"), AS_OF) == "2025"


async def test_the_scheduled_job_keeps_each_language_and_format(store: Store) -> None:
    settings = BriefingSettings(langs=["vi", "en"], formats=["pdf", "html"], indicators=["CPI_YOY"])
    job = BriefingSchedule(store, settings, RulesSettings(), make=tiny_make)
    kept = await job.run(AS_OF)
    assert sorted((b.lang, b.format) for b in kept) == [("en", "html"), ("en", "pdf"), ("vi", "html"), ("vi", "pdf")]
    assert {(b.period, b.as_of, b.made_by) for b in kept} == {("2026-11", AS_OF, SCHEDULE)}
    assert b"CPI_YOY" in (await store.briefings.body(kept[0].id) or b"")
    assert await job.run(AS_OF) == kept  # the same moment again: nothing new
    assert len(await store.briefings.listed()) == 4


async def test_the_scheduled_job_makes_and_keeps_the_real_briefing(store: Store) -> None:
    """The serving process's job with the real generator (briefing/): the kept document is the one made."""
    figure = ObservationIn(indicator="CPI_YOY", area="VN", period="2026-11", value=3.1, status="official")
    await store.observations.ingest(Batch("nso", [figure], collected_at=AS_OF - timedelta(days=2)))
    settings = BriefingSettings(formats=["html"], indicators=["CPI_YOY"])
    [kept] = await BriefingSchedule(store, settings, RulesSettings()).run(AS_OF)
    body = await store.briefings.body(kept.id) or b""
    assert (kept.period, kept.lang, kept.format, kept.as_of) == ("2026-11", "vi", "html", AS_OF)
    assert kept.content_digest == hashlib.sha256(body).hexdigest()
    assert "Chỉ số giá tiêu dùng so với cùng kỳ năm trước" in body.decode()


async def test_a_failed_briefing_is_logged_and_alerted_then_resolved(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(store: Store, **_: Any) -> Made:
        raise RuntimeError("no fonts")

    failing = BriefingSchedule(store, BriefingSettings(), RulesSettings(), make=broken)
    assert await failing.run(AS_OF) == []
    assert "the scheduled briefing for 2026-11 (vi, pdf) could not be made" in caplog.text
    [alert] = [a for a in await store.alerts.listed() if a.rule == "briefing.failed"]
    assert (alert.subject, alert.state.value, alert.params.period) == ("briefing/2026-11", "firing", "2026-11")
    assert "no fonts" in (alert.detail or "")
    assert alert.message == "Không lập được theo lịch bản tóm tắt tháng 11/2026 cho lãnh đạo"
    assert alert.message_en == "The scheduled leaders' briefing for November 2026 could not be made"
    assert await store.briefings.listed() == []

    await BriefingSchedule(store, BriefingSettings(), RulesSettings(), make=tiny_make).run(AS_OF)
    assert not [a for a in await store.alerts.listed() if a.rule == "briefing.failed"]  # open_only: resolved


@pytest.mark.parametrize(
    ("section", "told"),
    [
        ('cron = "0 25 * * *"', "briefing.cron: invalid crontab expression '0 25 * * *'"),
        ('period = "last week"', "briefing.period: Input should be 'previous month'"),
        ('langs = ["fr"]', "briefing.langs[0]: Input should be 'vi' or 'en'"),
        ('formats = ["docx"]', "briefing.formats[0]: Input should be 'pdf' or 'html'"),
        ('indicators = ["NOPE"]', "briefing.indicators: unknown indicator 'NOPE'"),
        ('langs = ["vi", "vi"]', "briefing.langs: 'vi' given more than once"),
        ("every = 3", "briefing.every: unknown key"),
    ],
)
def test_a_bad_briefing_section_is_refused_with_the_key_and_changes_nothing(
    tmp_path: Path, section: str, told: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(f"[briefing]\n{section}\n", "ops.toml")
    assert any(p.startswith(told) for p in caught.value.problems), caught.value.problems
    file = tmp_path / "ops.toml"
    file.write_text(f'[database]\npath = "ops.db"\n[briefing]\n{section}\n')
    result = run_cli("check-config", str(file))
    assert result.returncode == 2 and told in result.stderr, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ops.toml"]  # no database made


def test_check_config_shows_the_briefing(tmp_path: Path) -> None:
    file = tmp_path / "ops.toml"
    file.write_text('[briefing]\ncron = "0 6 1 * *"\nlangs = ["vi", "en"]\nformats = ["pdf", "html"]\n')
    result = run_cli("check-config", str(file))
    assert result.returncode == 0, result.stderr
    shown = "briefing: the previous month at cron '0 6 1 * *' (UTC), in vi, en, as pdf, html; the key indicators"
    assert shown in result.stdout
    (tmp_path / "none.toml").write_text('[database]\npath = "ops.db"\n')
    assert (
        "briefing: none made on a schedule (no [briefing])"
        in run_cli("check-config", str(tmp_path / "none.toml")).stdout
    )


async def test_the_feed_lists_briefings_to_an_operator_and_refuses_a_display(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "ops.db")
    async with feed_server(tmp_path / "ops.db", store=store) as server:
        kept = await store.briefings.keep(await tiny_make(store, period="2026-11", as_of=AS_OF), SCHEDULE)
        query = {"type": "query", "id": "b1", "query": {"name": "briefings"}}
        for role in ("operator", "admin"):
            async with client(server, role, hello={}) as c:
                await c.send(query)
                result = await c.until("result")
                [row] = result["data"]["briefings"]
                assert result["data"]["kind"] == "briefings"
                assert row == {
                    "id": kept.id, "period": "2026-11", "lang": "vi", "format": "pdf",
                    "as_of": "2026-12-01T06:00:00Z", "content_digest": kept.content_digest, "size": kept.size,
                    "made_at": row["made_at"], "made_by": "schedule",
                }  # fmt: skip
        async with client(server, "display", hello={}) as c:
            await c.send(query)
            error = await c.until("error")
            assert (error["code"], error["id"]) == ("forbidden", "b1")
            assert error["message"] == "the display role may not list briefings; it needs operator"
    await store.close()


async def test_a_briefing_is_downloaded_with_a_good_token_only(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "ops.db")
    async with feed_server(tmp_path / "ops.db", store=store) as server:
        made = await tiny_make(store, period="2026-11", as_of=AS_OF, lang="en", fmt="html")
        kept = await store.briefings.keep(made, "admin-user")
        url = f"http://127.0.0.1:{server.port}/briefings/{kept.id}"

        def bearer(role: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {TOKENS[role]}"}

        async with httpx.AsyncClient() as http:
            good = await http.get(url, headers=bearer("operator"))
            assert good.status_code == 200 and good.content == made.body
            assert good.headers["content-type"] == "text/html; charset=utf-8"
            assert good.headers["content-disposition"] == 'attachment; filename="briefing-2026-11-en.html"'

            none = await http.get(url)
            assert none.status_code == 401 and "Authorization: Bearer" in none.text
            assert none.headers["www-authenticate"].startswith("Bearer")
            wrong = await http.get(url, headers={"Authorization": "Bearer not-a-token-of-anyone"})
            assert wrong.status_code == 401 and wrong.text == "wrong or unknown token\n"
            low = await http.get(url, headers=bearer("display"))
            assert low.status_code == 403 and "needs operator" in low.text
            for unknown in (f"/briefings/{kept.id + 1}", "/briefings/abc", "/briefings/99999999999999999999"):
                missing = await http.get(f"http://127.0.0.1:{server.port}{unknown}", headers=bearer("admin"))
                assert missing.status_code == 404 and "no briefing" in missing.text
            in_url = await http.get(f"{url}?token={TOKENS['admin']}")
            assert in_url.status_code == 400  # a token is never taken from the URL

        entries = [(e.actor, e.action, e.target) for e in reversed(await store.audit.entries())]
        assert entries == [
            ("operator-user", "briefing.download", f"briefing:{kept.id}"),
            ("display-user", "briefing.download.refused", f"briefing:{kept.id}"),
            ("admin-user", "briefing.download.refused", f"briefing:{kept.id + 1}"),
            ("admin-user", "briefing.download.refused", "briefing:abc"),
            ("admin-user", "briefing.download.refused", "briefing:99999999999999999999"),
        ]
        first = (await store.audit.entries())[-1]
        assert json.loads(json.dumps(first.details))["digest"] == kept.content_digest
    await store.close()


async def test_the_serving_process_schedules_the_briefing_where_its_timers_run(tmp_path: Path) -> None:
    from cli.runtime import Service

    config = parse('[feed]\nport = 0\n[briefing]\ncron = "0 6 1 * *"\n', "ops.toml")
    service = Service(config, str(tmp_path / "ops.db"))
    await service.start()
    try:
        assert service.briefings is not None
        next_run = service.briefings.next_run()
        assert next_run is not None and (next_run.day, next_run.hour, next_run.minute) == (1, 6, 0)
    finally:
        await service.stop()
    assert service.briefings is None
