"""The one configuration file (TOML), validated by pydantic; each layer owns its section's model.

Errors name the key (``sources[2].every``) and the problem. Without a file the built-in demo
configuration applies (``opscentre show-config`` prints it).
"""

from __future__ import annotations

import importlib.util
import tomllib
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from collectors.config import CollectorSettings, RulesSettings, SourceSettings, check_crontab, check_mapping
from console.keys import check_overrides
from feed.config import FeedSettings, UserSettings
from storage import reference
from storage.models import NATION, Indicator
from storage.settings import DatabaseSettings, Section


class ConfigError(ValueError):
    """The configuration file is unreadable or invalid; ``problems`` lists each, key first."""

    def __init__(self, origin: str, problems: list[str]) -> None:
        self.origin = origin
        self.problems = problems
        super().__init__(f"{origin}: " + "; ".join(problems))


class ConsoleSettings(Section):
    """``[console]``: the operators' console. ``keys`` remaps bindings by id (console/keys.py)."""

    lang: Literal["vi", "en"] = "vi"
    keys: dict[str, str] = Field(default_factory=dict, description='binding id → key, e.g. "app.pause" = "f5"')

    @field_validator("keys")
    @classmethod
    def _known_ids(cls, keys: dict[str, str]) -> dict[str, str]:
        problems = check_overrides(keys)
        if problems:
            raise ValueError("; ".join(problems))
        return keys


BRIEFING_PERIODS = {"previous month": "M", "previous quarter": "Q", "previous year": "Y"}


class BriefingSettings(Section):
    """``[briefing]``: the leaders' briefing made on a schedule by the serving process (cli/briefings.py)
    and kept in the store: when (a crontab, as the sources' ``cron``, in UTC), the period it covers (the
    last whole month, quarter or year before that moment), in which languages and formats, of which
    indicators (empty: the generator's choice, the key indicators)."""

    cron: str = Field(default="0 6 1 * *", description="crontab expression, UTC (default: 06:00 on the 1st)")
    period: Literal["previous month", "previous quarter", "previous year"] = "previous month"
    langs: list[Literal["vi", "en"]] = Field(default=["vi"], min_length=1)
    formats: list[Literal["pdf", "html"]] = Field(default=["pdf"], min_length=1)
    indicators: list[str] = Field(default_factory=list, description="indicator codes; empty: the key indicators")

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        return check_crontab(v)

    @field_validator("langs", "formats", "indicators")
    @classmethod
    def _once(cls, v: list[str]) -> list[str]:
        twice = sorted(k for k, n in Counter(v).items() if n > 1)
        if twice:
            raise ValueError(f"{', '.join(map(repr, twice))} given more than once")
        return v


class Config(Section):
    database: DatabaseSettings = DatabaseSettings()
    feed: FeedSettings = FeedSettings()
    collector: CollectorSettings = CollectorSettings()
    sources: list[SourceSettings] = Field(default_factory=list)
    users: list[UserSettings] = Field(default_factory=list)
    indicators: list[Indicator] = Field(default_factory=list, description="catalogue entries beyond the shipped ones")
    console: ConsoleSettings = ConsoleSettings()
    rules: RulesSettings = RulesSettings()
    briefing: BriefingSettings | None = None  # no [briefing]: none is made on a schedule

    def source_agencies(self) -> dict[str, str]:
        """The agency each source speaks for: alert texts name it (wording/alerts.py)."""
        return {s.name: s.agency for s in self.sources if s.agency}


# The built-in SDMX source runs when its optional library is installed. The text says which, so
# that `show-config` prints what `serve` and `demo` run.
SDMX_SWITCH = "enabled = false               # needs the optional extra: pip install 'opscentre[sdmx]'"
SDMX_ON = "enabled = true                # the optional extra (pysdmx) is installed; without it: false"


def sdmx_available() -> bool:
    return importlib.util.find_spec("pysdmx") is not None


def builtin_text() -> str:
    text = resources.files("cli").joinpath("default.toml").read_text("utf-8")
    if SDMX_SWITCH not in text:  # the shipped file and this module disagree: fail loudly in tests
        raise RuntimeError("cli/default.toml: the nso-sdmx source's 'enabled' line has changed")
    return text.replace(SDMX_SWITCH, SDMX_ON) if sdmx_available() else text


def load(path: str | Path | None = None) -> Config:
    """The configuration at ``path``, or the built-in one."""
    if path is None:
        return parse(builtin_text(), "built-in configuration")
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(p), ["no such file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(p), [f"cannot read the file: {exc}"]) from None
    return parse(text, str(p), base=p.parent)


def parse(text: str, origin: str, base: Path | None = None) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(origin, [f"not valid TOML: {exc}"]) from None
    try:
        config = Config.model_validate(_resolve_paths(data, base))
    except ValidationError as exc:
        raise ConfigError(origin, [_describe(e, data) for e in exc.errors()]) from None
    problems = _cross_check(config)
    if problems:
        raise ConfigError(origin, problems)
    return config


def _resolve_paths(data: dict[str, Any], base: Path | None) -> dict[str, Any]:
    """Relative file names in a config file are relative to the file, not to where we run."""
    if base is None:
        return data
    db = data.get("database")
    if isinstance(db, dict) and isinstance(db.get("path"), str) and db["path"] != ":memory:":
        db["path"] = str(base / db["path"])
    feed = data.get("feed")
    if isinstance(feed, dict):
        for key in ("tls_cert", "tls_key"):
            if isinstance(feed.get(key), str):
                feed[key] = str(base / feed[key])
    return data


def _key(loc: tuple[Any, ...], data: dict[str, Any]) -> str:
    out = ""
    node: Any = data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("name") or node.get("code"), str):
                out += f" ({node.get('name') or node.get('code')})"
        else:
            out += ("." if out else "") + str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out or "(top level)"


def _describe(error: Any, data: dict[str, Any]) -> str:
    loc = tuple(x for x in error["loc"] if not (isinstance(x, str) and x.startswith("function-")))
    kind, msg = error["type"], error["msg"]
    if kind == "extra_forbidden":
        return f"{_key(loc, data)}: unknown key"
    if kind == "missing":
        return f"{_key(loc, data)}: missing (required)"
    msg = msg.removeprefix("Value error, ")
    if "input" in error and kind not in ("model_type",) and not isinstance(error["input"], dict | list):
        return f"{_key(loc, data)}: {msg} (got {error['input']!r})"
    return f"{_key(loc, data)}: {msg}"


def _cross_check(config: Config) -> list[str]:
    problems: list[str] = []
    for what, names in (
        ("sources", [s.name for s in config.sources]),
        ("users", [u.name for u in config.users]),
        ("indicators", [i.code for i in config.indicators]),
    ):
        for name, n in Counter(names).items():
            if n > 1:
                problems.append(f"{what}: {name!r} is defined {n} times")
    for token, n in Counter(u.token_sha256 for u in config.users).items():
        if n > 1:
            problems.append(f"users: {n} users share the token with sha256 {token[:12]}…; every user needs their own")
    agencies = {a.code for a in reference.load_agencies()}
    categories = {c.code for c in reference.load_categories()}
    frequencies = {i.code: i.frequency.value for i in [*reference.load_indicators(), *config.indicators]}
    area_codes = {a.code for a in reference.load_areas()} | {NATION}
    for i, src in enumerate(config.sources):
        if src.agency is not None and src.agency not in agencies:
            problems.append(f"sources[{i}] ({src.name}).agency: unknown agency {src.agency!r}")
        if src.mapping is not None:  # areas, indicators and frequencies against the catalogue
            problems += check_mapping(f"sources[{i}] ({src.name}).mapping", src.mapping, frequencies, area_codes)
    for code in config.rules.indicators:
        if code not in frequencies:
            problems.append(f"rules.indicators.{code}: unknown indicator {code!r}")
    if config.briefing is not None:
        for code in config.briefing.indicators:
            if code not in frequencies:
                problems.append(f"briefing.indicators: unknown indicator {code!r}")
    for i, ind in enumerate(config.indicators):
        if ind.category not in categories:
            problems.append(f"indicators[{i}] ({ind.code}).category: unknown category {ind.category!r}")
        if ind.owner not in agencies:
            problems.append(f"indicators[{i}] ({ind.code}).owner: unknown agency {ind.owner!r}")
    return problems
