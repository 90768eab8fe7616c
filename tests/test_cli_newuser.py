"""The command line as a new user meets it: history counts and revisions, show-config, empty
configurations, demo tokens, times without a zone, and output in one language at a time."""

from __future__ import annotations

import importlib.util
import json
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cli.config import load
from cli.demo import demo_config
from feed.config import hash_token
from storage import Batch, ObservationIn, Store
from tests.conftest import run_cli

T0 = datetime(2024, 6, 20, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "ops.db"
    assert run_cli("init-db", "--db", str(path)).returncode == 0
    return path


async def put(db: Path, source: str, rows: list[tuple[str, str, float, str]], at: datetime) -> None:
    store = await Store.open(db)
    try:
        records = [ObservationIn(indicator=i, area="VN", period=p, value=v, status=s) for i, p, v, s in rows]
        result = await store.observations.ingest(Batch(source, records, collected_at=at))
        assert not result.rejected
    finally:
        await store.close()


@pytest.fixture
async def revised(db: Path) -> Path:
    """CPI 2024-05 from the SDMX source: 1.11, then revised to 1.111345, then to 1.1113."""
    await put(db, "nso-sdmx", [("CPI_YOY", "2024-05", 1.11, "provisional")], T0)
    await put(db, "nso-sdmx", [("CPI_YOY", "2024-05", 1.111345, "official")], T0 + timedelta(days=1))
    await put(db, "nso-sdmx", [("CPI_YOY", "2024-05", 1.1113, "official")], T0 + timedelta(days=2))
    return db


def test_a_revision_never_prints_the_same_as_the_figure_it_revised(revised: Path) -> None:
    table = run_cli("history", "CPI_YOY", "--db", str(revised), "--revisions")
    assert table.returncode == 0, table.stderr
    values = [line.split("│")[2].strip() for line in table.stdout.splitlines() if line.count("│") > 3]
    assert values == ["1,1113", "1,11135", "1,11"]  # 1.1113, 1.111345, 1.11: each told apart
    # Without --revisions the figure shown still has the digits that tell it from the ones before.
    plain = run_cli("history", "CPI_YOY", "--db", str(revised), "--lang", "en")
    assert "1.1113 " in plain.stdout
    # As known on the second day: revision 2, told apart from revision 1 only (not the later one).
    then = run_cli("history", "CPI_YOY", "--db", str(revised), "--as-of", "2024-06-21T12:00Z", "--revisions")
    assert "1,111 " in then.stdout and "1,11 " in then.stdout and "1,1113" not in then.stdout


def test_history_revisions_json_includes_the_earlier_revisions(revised: Path) -> None:
    result = run_cli("history", "CPI_YOY", "--db", str(revised), "--revisions", "--json")
    assert result.returncode == 0, result.stderr
    [row] = json.loads(result.stdout)
    assert row["revision"] == 3 and row["value"] == 1.1113
    earlier = row["earlier_revisions"]
    assert [(r["revision"], r["value"], r["status"]) for r in earlier] == [
        (1, 1.11, "provisional"),
        (2, 1.111345, "official"),
    ]
    assert all(r["payload_digest"] is None and r["collected_at"] for r in earlier)
    then = run_cli("history", "CPI_YOY", "--db", str(revised), "--revisions", "--json", "--as-of", "2024-06-21T12:00Z")
    [row] = json.loads(then.stdout)
    assert row["revision"] == 2 and [r["revision"] for r in row["earlier_revisions"]] == [1]


async def test_history_counts_periods_not_rows(db: Path) -> None:
    rows = [("GDP_GROWTH", "2024-Q1", 5.66, "official"), ("GDP_GROWTH", "2024-Q2", 6.93, "official")]
    await put(db, "nso", rows, T0)
    await put(db, "nso-sdmx", rows, T0)
    english = run_cli("history", "GDP_GROWTH", "--db", str(db), "--lang", "en")
    assert "4 figures: 2 periods from 2 sources" in english.stdout
    assert "4 periods" not in english.stdout
    vietnamese = run_cli("history", "GDP_GROWTH", "--db", str(db))
    assert "4 số liệu: 2 kỳ, 2 nguồn" in vietnamese.stdout


async def test_each_language_whole(db: Path) -> None:
    await put(db, "nso", [("RETAIL_SALES", "2024-05", 1234.5, "provisional")], T0)
    vi = run_cli("history", "RETAIL_SALES", "--db", str(db))
    assert "giá trị" in vi.stdout and "trạng thái" in vi.stdout and "sơ bộ" in vi.stdout
    assert "nghìn tỷ đồng" in vi.stdout
    for english in ("value", "status", "provisional", "periods", "source"):
        assert english not in vi.stdout, english
    en = run_cli("history", "RETAIL_SALES", "--db", str(db), "--lang", "en")
    assert "trillion VND" in en.stdout and "provisional" in en.stdout and "value" in en.stdout
    assert "nghìn tỷ đồng" not in en.stdout and "sơ bộ" not in en.stdout

    vi_list = run_cli("indicators", "--db", str(db), "--agency", "SBV")
    assert "đơn vị" in vi_list.stdout and "3 chỉ tiêu" in vi_list.stdout and "unit" not in vi_list.stdout
    en_list = run_cli("indicators", "--db", str(db), "--category", "KTVM", "--lang", "en")
    assert "trillion VND" in en_list.stdout and "nghìn tỷ đồng" not in en_list.stdout

    vi_areas = run_cli("areas", "--db", str(db), "--on", "2026-01-01")
    assert "loại" in vi_areas.stdout and "thành phố" in vi_areas.stdout
    assert "34 tỉnh, thành phố có hiệu lực ngày 2026-01-01" in vi_areas.stdout and "kind" not in vi_areas.stdout
    en_areas = run_cli("areas", "--db", str(db), "--on", "2026-01-01", "--lang", "en")
    assert "34 provinces and cities in force on 2026-01-01" in en_areas.stdout and "kind" in en_areas.stdout


def test_as_of_without_a_time_zone_is_refused(db: Path) -> None:
    result = run_cli("history", "CPI_YOY", "--db", str(db), "--as-of", "2024-06-21T12:00")
    assert result.returncode == 2
    assert "no time zone" in result.stderr and "2024-06-21T12:00+07:00" in result.stderr
    for given in ("2024-06-21T12:00Z", "2024-06-21T12:00+07:00", "2024-06-21"):
        ok = run_cli("history", "CPI_YOY", "--db", str(db), "--as-of", given, "--lang", "en")
        assert ok.returncode == 0, ok.stderr
    shown = run_cli("history", "CPI_YOY", "--db", str(db), "--as-of", "2024-06-21T12:00+07:00", "--lang", "en")
    assert "as known at 2024-06-21 05:00:00 UTC" in shown.stdout


def test_show_config_prints_what_runs() -> None:
    shown = run_cli("show-config")
    assert shown.returncode == 0
    printed = {s["name"]: s.get("enabled", True) for s in tomllib.loads(shown.stdout)["sources"]}
    have_sdmx = importlib.util.find_spec("pysdmx") is not None
    assert printed["nso-sdmx"] is have_sdmx
    # The demo runs the built-in configuration; what it runs is what show-config printed.
    running = {s.name: s.enabled for s in demo_config(load(None), 8780).sources}
    assert running == printed
    assert {s.name: s.enabled for s in load(None).sources} == printed  # and so does `serve`


@pytest.mark.parametrize("text", ["", "[database]\npath = 'x.db'\n"])
def test_an_empty_configuration_is_valid_but_warned_about(tmp_path: Path, text: str) -> None:
    path = tmp_path / "empty.toml"
    path.write_text(text, encoding="utf-8")
    result = run_cli("check-config", str(path))
    assert result.returncode == 0
    assert "0 sources" in result.stdout
    assert "warning: no [[sources]]: nothing will be collected" in result.stderr
    assert "warning: no [[users]]: nobody can connect to the feed" in result.stderr
    builtin = tmp_path / "builtin.toml"
    builtin.write_text(run_cli("show-config").stdout, encoding="utf-8")
    assert "warning" not in run_cli("check-config", str(builtin)).stderr


def test_hash_token_accepts_the_demo_tokens_the_configuration_names() -> None:
    users = {u["name"]: u["token_sha256"] for u in tomllib.loads(run_cli("show-config").stdout)["users"]}
    for name in ("display", "operator", "admin"):
        result = run_cli("hash-token", f"demo-{name}")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == users[name] == hash_token(f"demo-{name}")
        assert "demo token" in result.stderr
    assert run_cli("hash-token", "demo-other").returncode == 2  # other short tokens still refused


def test_a_run_is_described_wholly_in_one_language() -> None:
    from cli.runtime import describe_run
    from storage import CollectionRun, RunOutcome, RunTrigger

    run = CollectionRun.model_validate(
        {"id": 7, "source": "nso", "trigger": RunTrigger.SCHEDULE, "requested_by": None, "started_at": T0,
         "ended_at": T0 + timedelta(seconds=41.25), "outcome": RunOutcome.PARTIAL, "fetched": 12345,
         "new": 12000, "revised": 300, "unchanged": 40, "rejected": 5}
    )  # fmt: skip
    vi = describe_run(run, "vi")
    assert "lượt thu #7 nso: thành công một phần trong 41,3 giây" in vi  # 41.25: half away from zero, as Intl
    assert "nhận 12.345, mới 12.000, điều chỉnh 300, không đổi 40, bị loại 5" in vi
    for english in ("run", "partial", "fetched", "new ", "revised", "rejected", "s "):
        assert english not in vi, english
    en = describe_run(run, "en")
    assert "run #7 nso: partial in 41.3s — fetched 12,345, new 12,000, revised 300" in en
