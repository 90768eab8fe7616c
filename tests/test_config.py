"""The configuration file: a valid one passes; every broken one names the key and the problem."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from cli.config import ConfigError, builtin_text, load, parse
from feed.config import Role, hash_token
from tests.conftest import run_cli

ADMIN = hash_token("a-long-random-admin-token-0123456789")

VALID = f"""
[database]
path = "data/ops.db"

[feed]
port = 9000
allowed_origins = ["https://wall.example.gov.vn"]

[collector]
max_concurrency = 8

[[sources]]
name = "gso-json"
kind = "agency-json"
url = "http://127.0.0.1:8780/agencies/GSO/observations"
agency = "GSO"
every = "15m"
jitter = "30s"

[[sources]]
name = "gso-sdmx"
kind = "sdmx"
format = "sdmx-csv"
url = "http://127.0.0.1:8780/sdmx/data/GSO.csv"
agency = "NSO"
cron = "5 * * * *"
[sources.mapping.indicators]
CPI_Y = "CPI_YOY"

[[users]]
name = "admin"
role = "admin"
token_sha256 = "{ADMIN}"

[[indicators]]
code = "DOMESTIC_TOURISTS"
name_vi = "Khách du lịch nội địa"
name_en = "Domestic tourists"
unit = "triệu lượt"
frequency = "M"
category = "TMXNK"
owner = "VNAT"
level = "national"
kind = "flow"
"""


def test_a_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "ops.toml"
    path.write_text(VALID, encoding="utf-8")
    config = load(path)
    assert config.database.path == str(tmp_path / "data" / "ops.db")  # relative to the file
    assert config.feed.port == 9000 and config.collector.max_concurrency == 8
    assert config.sources[0].every == timedelta(minutes=15) and config.sources[0].jitter == timedelta(seconds=30)
    assert config.sources[1].mapping is not None and config.sources[1].mapping.indicators == {"CPI_Y": "CPI_YOY"}
    assert config.users[0].role is Role.ADMIN
    assert config.indicators[0].name_vi == "Khách du lịch nội địa"
    result = run_cli("check-config", str(path))
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout and "2 sources" in result.stdout and "1 users" in result.stdout


def test_the_built_in_configuration_is_valid() -> None:
    config = parse(builtin_text(), "built-in")
    assert {u.role for u in config.users} == {Role.DISPLAY, Role.OPERATOR, Role.ADMIN}
    assert config.feed.host == "127.0.0.1"


BROKEN = [
    ("[database\npath = 1", "not valid TOML"),
    ("[databse]\npath = 'x.db'", "databse: unknown key"),
    ("[database]\npath = 'x.db'\nkeep_events = 'a week'", "database.keep_events: 'a week' is not a duration"),
    ("[feed]\nport = 70000", "feed.port: Input should be less than or equal to 65535"),
    ("[feed]\nport = 'eighty'", "feed.port: Input should be a valid integer"),
    ("[feed]\ntls_cert = 'cert.pem'", "give both 'tls_cert' and 'tls_key'"),
    ("[feed]\ntls_cert = 'c.pem'\ntls_key = 'k.pem'", "tls_cert: no such file"),
    ("[feed]\ntick = '10s'", "'tick' must be between 20ms and 5s"),
    ("[collector]\nmax_concurrency = 0", "collector.max_concurrency: Input should be greater than or equal to 1"),
    (
        "[[sources]]\nname = 'a'\nkind = 'agency-json'\nurl = 'http://x'",
        "sources[0] (a): give exactly one of 'every' (an interval) or 'cron'",
    ),
    (
        "[[sources]]\nname = 'a'\nkind = 'agency-json'\nurl = 'http://x'\nevery = '1m'\ncron = '* * * * *'",
        "give exactly one of 'every'",
    ),
    (
        "[[sources]]\nname = 'a'\nkind = 'agency-json'\nurl = 'http://x'\ncron = '61 * * * *'",
        "sources[0] (a).cron: invalid crontab expression '61 * * * *'",
    ),
    ("[[sources]]\nname = 'a'\nkind = 'ftp'\nurl = 'http://x'\nevery = '1m'", "sources[0] (a).kind: Input should be"),
    ("[[sources]]\nname = 'a'\nkind = 'portal'\nurl = 'not a url'\nevery = '1m'", "sources[0] (a).url:"),
    ("[[sources]]\nname = 'a'\nkind = 'portal'\nevery = '1m'", "sources[0] (a).url: missing (required)"),
    ("[[sources]]\nname = 'Bad Name'\nkind = 'portal'\nurl = 'http://x'\nevery = '1m'", "sources[0] (Bad Name).name"),
    ("[[sources]]\nname = 'a'\nkind = 'sdmx'\nurl = 'http://x'\nevery = '1m'", "an sdmx source needs 'format'"),
    (
        "[[sources]]\nname = 'a'\nkind = 'portal'\nurl = 'http://x'\nevery = '1m'\nagency = 'NOPE'",
        "sources[0] (a).agency: unknown agency 'NOPE'",
    ),
    (
        "[[sources]]\nname = 'a'\nkind = 'portal'\nurl = 'http://x'\nevery = '1m'\n"
        "[[sources]]\nname = 'a'\nkind = 'portal'\nurl = 'http://y'\nevery = '1m'",
        "sources: 'a' is defined 2 times",
    ),
    (
        "[[sources]]\nname = 's'\nkind = 'sdmx'\nformat = 'sdmx-csv'\nurl = 'http://x'\nevery = '1m'\n"
        "[sources.mapping.indicators]\nCPI = 'NOT_OURS'",
        "sources[0] (s).mapping.indicators.CPI: unknown indicator 'NOT_OURS'",
    ),
    ("[[users]]\nname = 'u'\nrole = 'root'\ntoken_sha256 = '" + ADMIN + "'", "users[0] (u).role: Input should be"),
    (
        "[[users]]\nname = 'u'\nrole = 'admin'\ntoken_sha256 = 'secret'",
        "users[0] (u).token_sha256: String should match",
    ),
    (
        f"[[users]]\nname = 'u'\nrole = 'admin'\ntoken_sha256 = '{ADMIN}'\n"
        f"[[users]]\nname = 'v'\nrole = 'display'\ntoken_sha256 = '{ADMIN}'",
        "users: 2 users share the token",
    ),
    (
        "[[indicators]]\ncode = 'X'\nname_vi = 'x'\nname_en = 'x'\nunit = 'u'\nfrequency = 'W'\ncategory = 'KTVM'\n"
        "owner = 'GSO'\nlevel = 'national'\nkind = 'flow'",
        "indicators[0] (X).frequency",
    ),
    (
        "[[indicators]]\ncode = 'X'\nname_vi = 'x'\nname_en = 'x'\nunit = 'u'\nfrequency = 'M'\ncategory = 'NOPE'\n"
        "owner = 'GSO'\nlevel = 'national'\nkind = 'flow'",
        "indicators[0] (X).category: unknown category 'NOPE'",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BROKEN)
def test_broken_files_name_the_key_and_the_problem(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load(path)
    assert any(expected in p for p in info.value.problems), info.value.problems


@pytest.mark.parametrize(("text", "expected"), [BROKEN[1], BROKEN[9], BROKEN[17]])
def test_check_config_command_reports_and_exits_2(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    result = run_cli("check-config", str(path))
    assert result.returncode == 2
    assert expected in result.stderr
    assert "invalid configuration" in result.stderr and "Traceback" not in result.stderr


def test_check_config_on_missing_and_unreadable_files(tmp_path: Path) -> None:
    missing = run_cli("check-config", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    result = run_cli("check-config", str(binary))
    assert result.returncode == 2 and "cannot read the file" in result.stderr


def test_every_problem_is_listed_not_just_the_first(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[feed]\nport = -1\nfoo = 1\n[collector]\nretries = 99\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load(path)
    joined = "\n".join(info.value.problems)
    assert "feed.port" in joined and "feed.foo: unknown key" in joined and "collector.retries" in joined


def test_a_bad_config_stops_other_commands_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[feed]\nport = 'x'\n", encoding="utf-8")
    result = run_cli("init-db", "--config", str(path), "--db", str(tmp_path / "x.db"))
    assert result.returncode == 2 and "feed.port" in result.stderr
    assert not (tmp_path / "x.db").exists()


def test_check_config_names_the_postgresql_database_it_would_use_without_its_password(tmp_path: Path) -> None:
    path = tmp_path / "pg.toml"
    path.write_text('[database]\nurl = "postgresql://ops:s3cret@db1:5432/opscentre"\n', encoding="utf-8")
    result = run_cli("check-config", str(path))
    assert result.returncode == 0, result.stderr
    assert "db1" in result.stdout and "opscentre.db" not in result.stdout
    assert "s3cret" not in result.stdout + result.stderr
