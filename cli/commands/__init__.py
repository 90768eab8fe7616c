"""The `opscentre` subcommands, each module registering its own (``register(add)``) and keeping
its heavy imports inside its handlers, so that `opscentre --help` loads none of them."""

from __future__ import annotations

from cli.commands import alerts, briefing, catalogue, running, setup

# The order of `opscentre --help`.
COMMANDS = (setup, catalogue, alerts, briefing, running)
