"""docs/protocol.md shows every message: each example must be valid, and every type shown."""

from __future__ import annotations

import json
import re
from typing import Any, get_args

import jsonschema
import pytest

from feed.protocol import (
    CLIENT_MESSAGE,
    SERVER_MESSAGE,
    ClientMessage,
    CloseCode,
    ErrorCode,
    ServerMessage,
    json_schema,
)
from tests.conftest import ROOT, run_cli

DOC = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
EXAMPLES = re.findall(r"```json (client|server)\n(.*?)```", DOC, re.S)


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 15


@pytest.mark.parametrize(("direction", "text"), EXAMPLES)
def test_every_example_is_a_valid_message(direction: str, text: str) -> None:
    adapter = CLIENT_MESSAGE if direction == "client" else SERVER_MESSAGE
    adapter.validate_json(text)


def _types(annotated: Any) -> set[str]:
    union = get_args(annotated)[0]  # Annotated[Union[...], Field(discriminator="type")]
    return {m.model_fields["type"].default for m in get_args(union)}


def test_every_message_type_and_code_is_documented() -> None:
    shown = {(d, json.loads(t)["type"]) for d, t in EXAMPLES}
    for direction, annotated in (("client", ClientMessage), ("server", ServerMessage)):
        for type_ in _types(annotated):
            assert (direction, type_) in shown, f"no {direction} example of {type_}"
    for code in ErrorCode:
        assert f"`{code.value}`" in DOC
    for name, value in vars(CloseCode).items():
        if isinstance(value, int) and name.isupper():
            assert f"| {value} |" in DOC, name


def test_the_json_schema_is_valid_and_matches_the_examples() -> None:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for _, text in EXAMPLES:
        validator.validate(json.loads(text))


def test_protocol_schema_command_prints_it() -> None:
    result = run_cli("protocol-schema")
    assert result.returncode == 0
    assert json.loads(result.stdout)["title"] == "opscentre feed protocol v1"


def test_every_limit_is_documented_and_shown_by_show_config_with_its_default() -> None:
    import tomllib

    from feed.config import FeedSettings

    table = DOC.split("## Limits", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `(\w+)` \| `?([^`|]+?)`? \|", table, re.M))
    shown = tomllib.loads(run_cli("show-config").stdout)["feed"]
    defaults = FeedSettings()
    limits = ["auth_deadline", "max_message_bytes", "max_queue_bytes", "commands_per_minute", "queries_per_minute"]
    limits += ["snapshot_concurrency", "resume_max_events", "heartbeat", "tick"]
    for key in limits:
        assert key in rows, f"{key} is not in the docs' Limits table"
        assert key in shown, f"{key} is not in show-config"
        expected = getattr(defaults, key)
        assert FeedSettings.model_validate({key: rows[key]}).model_dump()[key] == expected, key
        assert FeedSettings.model_validate({key: shown[key]}).model_dump()[key] == expected, key
