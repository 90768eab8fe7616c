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
    Query,
    ResultData,
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


def _kinds(annotated: Any, field: str) -> set[str]:
    """The ``field`` defaults of a union's models (``annotated``: the union, or Annotated[union, ...])."""
    members = get_args(annotated)
    if members and not hasattr(members[0], "model_fields"):
        members = get_args(members[0])
    return {m.model_fields[field].default for m in members}


def test_every_query_and_every_kind_of_answer_is_documented() -> None:
    messages = [json.loads(t) for _, t in EXAMPLES]
    asked = {m["query"]["name"] for m in messages if m["type"] == "query"}
    assert asked == _kinds(Query.model_fields["query"].annotation, "name")
    answered = {m["data"]["kind"] for m in messages if m["type"] == "result"}
    assert answered == _kinds(ResultData, "kind")
    assert any(m.get("as_of") for m in messages if m["type"] == "hello")
    assert any(m.get("as_of") for m in messages if m["type"] == "subscribe")
    assert any(m.get("as_of") for m in messages if m["type"] == "snapshot")
    assert any(m["alert"].get("params") and m["alert"].get("detail") for m in messages if m["type"] == "alert")


TYPED = ("type", "$ref", "anyOf", "oneOf", "allOf", "enum", "const")


def _untyped(node: Any, where: str = "") -> list[str]:
    """Fields (and list items, map values) whose schema allows anything at all: typed ``Any``."""
    found = []
    if isinstance(node, dict):
        subs = [*(node.get("properties") or {}).items()]
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict) or node.get(key) is True:  # true: any value at all
                subs.append((key, node[key] if node[key] is not True else {}))
        for name, sub in subs:
            if isinstance(sub, dict) and not any(k in sub for k in TYPED):
                found.append(f"{where}/{name}")
        for key, value in node.items():
            found += _untyped(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _untyped(value, f"{where}/{i}")
    return found


def test_the_untyped_check_finds_an_any() -> None:
    from pydantic import BaseModel, TypeAdapter

    class Loose(BaseModel):
        a: Any
        b: list[Any]
        c: dict[str, Any]
        d: int

    assert _untyped(TypeAdapter(Loose).json_schema()) == [
        "/a",
        "/properties/b/items",
        "/properties/c/additionalProperties",
    ]


def test_nothing_in_the_protocol_is_untyped() -> None:
    schema = json_schema()
    assert _untyped(schema) == []
    result = schema["$defs"]["ServerMessage"]["$defs"]["Result"]["properties"]["data"]
    assert "discriminator" in result and len(result["oneOf"]) == len(_kinds(ResultData, "kind"))


def test_protocol_schema_includes_the_answers_the_catalogue_and_time_travel() -> None:
    printed = json.loads(run_cli("protocol-schema").stdout)
    server = printed["$defs"]["ServerMessage"]["$defs"]
    for model in ("CatalogueData", "IndicatorInfo", "AreaInfo", "SourcesData", "ProvenanceData", "AlertParams"):
        assert model in server, model
    assert "as_of" in server["Snapshot"]["properties"]
    client = printed["$defs"]["ClientMessage"]["$defs"]
    assert "as_of" in client["Hello"]["properties"] and "CatalogueQuery" in client
