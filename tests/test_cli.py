"""The command line, run as a user would: the real entry point's ``main`` in this process (run_cli),
and the installed `opscentre` script in a child process where being a real command is the point."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cli.main import build_parser
from storage import Batch, ObservationIn, Store
from tests.conftest import run_cli, run_cli_process

SUBCOMMANDS = sorted(build_parser()._subparsers._group_actions[0].choices or ())  # type: ignore[union-attr]


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command: str) -> None:
    result = run_cli(command, "--help")
    assert result.returncode == 0
    assert f"usage: opscentre {command}" in result.stdout
    assert "--config" in result.stdout and "--db" in result.stdout


def test_top_level_help_lists_the_commands() -> None:
    result = run_cli_process("--help")  # the installed console script, in a process of its own
    assert result.returncode == 0
    for command in ("init-db", "check-config", "indicators", "areas", "history", "verify-audit", "serve", "demo"):
        assert command in result.stdout


def test_no_command_and_unknown_command_are_usage_errors() -> None:
    assert run_cli_process().returncode == 2
    unknown = run_cli("frobnicate")
    assert unknown.returncode == 2 and "invalid choice" in unknown.stderr


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "ops.db"
    assert run_cli("init-db", "--db", str(path)).returncode == 0
    return path


def test_indicators_filtered_by_category_and_agency(db: Path) -> None:
    result = run_cli("indicators", "--db", str(db), "--category", "TCNS", "--json")
    assert result.returncode == 0, result.stderr
    codes = {i["code"] for i in json.loads(result.stdout)}
    assert codes == {"BUDGET_REVENUE", "BUDGET_EXPENDITURE", "PUBLIC_INVESTMENT_DISBURSED", "CREDIT_GROWTH",
                     "USD_CENTRAL_RATE", "INTERBANK_OVERNIGHT"}  # fmt: skip
    sbv = run_cli("indicators", "--db", str(db), "--agency", "SBV")
    assert sbv.returncode == 0
    assert "Tăng trưởng tín dụng so với đầu năm" in sbv.stdout and "3 chỉ tiêu" in sbv.stdout
    english = run_cli("indicators", "--db", str(db), "--agency", "SBV", "--lang", "en")
    assert "Credit growth since start of year" in english.stdout
    bad = run_cli("indicators", "--db", str(db), "--category", "NOPE")
    assert bad.returncode == 2 and "unknown category 'NOPE'" in bad.stderr


def test_areas_on_a_date(db: Path) -> None:
    before = run_cli("areas", "--db", str(db), "--on", "2020-08-19", "--lang", "en")
    assert before.returncode == 0 and "63 provinces and cities in force on 2020-08-19" in before.stdout
    assert "Tỉnh Hà Giang" in before.stdout
    after = run_cli("areas", "--db", str(db), "--on", "2026-01-01", "--json")
    names = {a["name_vi"] for a in json.loads(after.stdout)}
    assert len(names) == 34 and "Tỉnh Hà Giang" not in names and "Tỉnh Tuyên Quang" in names
    bad = run_cli("areas", "--db", str(db), "--on", "19/08/2020")
    assert bad.returncode == 2 and "invalid date '19/08/2020'" in bad.stderr


async def test_history_with_revisions_and_as_of(db: Path) -> None:
    t0 = datetime(2024, 6, 20, tzinfo=UTC)
    store = await Store.open(db)
    try:
        await store.observations.ingest(
            Batch(
                "gso",
                [ObservationIn(indicator="CPI_YOY", area="VN", period="2024-05", value=4.44, status="provisional")],
                collected_at=t0,
            )
        )
        await store.observations.ingest(
            Batch(
                "gso",
                [ObservationIn(indicator="CPI_YOY", area="VN", period="2024-05", value=4.36)],
                collected_at=t0 + timedelta(days=30),
            )
        )
        await store.observations.ingest(
            Batch(
                "gso",
                [ObservationIn(indicator="RETAIL_SALES", area="VN", period="2024-05", value=1234.5)],
                collected_at=t0,
            )
        )
    finally:
        await store.close()

    now = run_cli("history", "CPI_YOY", "--db", str(db), "--json")
    assert [(o["period"], o["value"], o["revision"]) for o in json.loads(now.stdout)] == [("2024-05", 4.36, 2)]
    then = run_cli("history", "CPI_YOY", "--db", str(db), "--as-of", "2024-06-25", "--json")
    assert [(o["value"], o["status"]) for o in json.loads(then.stdout)] == [(4.44, "provisional")]
    table = run_cli("history", "CPI_YOY", "--db", str(db), "--revisions")
    assert "4,36" in table.stdout and "4,44" in table.stdout  # Vietnamese number format by default
    english = run_cli("history", "RETAIL_SALES", "--db", str(db), "--lang", "en")
    assert "1,234.5" in english.stdout and "Retail sales" in english.stdout
    vietnamese = run_cli("history", "RETAIL_SALES", "--db", str(db))
    assert "1.234,5" in vietnamese.stdout
    assert run_cli("history", "CPI_YOY", "--db", str(db), "--as-of", "yesterday").returncode == 2
    unknown = run_cli("history", "CPI_YOY", "--db", str(db), "--area", "99")
    assert unknown.returncode == 2 and "unknown area '99'" in unknown.stderr


def test_commands_on_a_missing_database_say_how_to_create_it(tmp_path: Path) -> None:
    result = run_cli("indicators", "--db", str(tmp_path / "none.db"))
    assert result.returncode == 2
    assert "opscentre init-db" in result.stderr
    assert not (tmp_path / "none.db").exists()


def test_hash_token(tmp_path: Path) -> None:
    result = run_cli("hash-token", input="a-long-random-token-for-the-wall\n")
    assert result.returncode == 0
    from feed.config import hash_token

    assert result.stdout.strip() == hash_token("a-long-random-token-for-the-wall")
    assert run_cli("hash-token", "short").returncode == 2


def test_show_config_prints_a_valid_file(tmp_path: Path) -> None:
    shown = run_cli("show-config")
    path = tmp_path / "mine.toml"
    path.write_text(shown.stdout, encoding="utf-8")
    assert run_cli("check-config", str(path)).returncode == 0
