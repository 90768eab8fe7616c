"""`opscentre collect` through the feed: an admin client that asks the server for runs and
prints each run as it starts and finishes, then the result of all of them."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from cli.config import Config
from cli.runtime import describe_run
from cli.tokens import read_token
from feed.protocol import (
    SERVER_MESSAGE,
    CloseCode,
    CollectAccepted,
    CollectDone,
    Filter,
    Hello,
    Result,
    RunInfo,
    RunStatus,
)
from storage import CollectionRun

DEMO_ADMIN_TOKEN = "demo-admin"  # the built-in configuration's demo admin (documented there)

# websockets logs the handshake headers (our Authorization) at DEBUG: never below WARNING for ours.
_ws_log = logging.getLogger("opscentre.collect.websockets")
_ws_log.setLevel(logging.WARNING)


class FeedUnavailable(RuntimeError):
    pass


def token_for(token_file: str | None, builtin: bool) -> str:
    """The admin token: from --token-file, else $OPSCENTRE_TOKEN, else (built-in demo only) the demo's."""
    return read_token(token_file, DEMO_ADMIN_TOKEN if builtin else None, "an admin token", FeedUnavailable)


@contextmanager
def feed_errors(url: str, error: type[Exception], hint: str) -> Iterator[None]:
    """A feed that refuses the connection or cannot be reached, said as ``error`` (``hint``: what to check)."""
    try:
        yield
    except InvalidStatus as exc:
        status = exc.response.status_code
        why = "the token was refused" if status == 401 else f"HTTP {status}"
        raise error(f"the feed at {url} refused the connection: {why}") from None
    except (OSError, TimeoutError) as exc:
        raise error(f"cannot reach the feed at {url} ({exc.__class__.__name__}): {hint}") from None


def feed_url(config: Config) -> str:
    host = "127.0.0.1" if config.feed.host in ("0.0.0.0", "::", "") else config.feed.host
    scheme = "wss" if config.feed.tls_cert else "ws"
    return f"{scheme}://{host}:{config.feed.port}/feed"


async def collect_via_feed(
    config: Config,
    console: Console,
    token: str,
    *,
    source: str | None,
    agency: str | None,
    everything: bool,
    url: str | None = None,
    cafile: str | None = None,
) -> int:
    url = url or feed_url(config)
    tls = ssl.create_default_context(cafile=cafile) if url.startswith("wss:") else None
    hint = "is `opscentre serve` running? Use --local to collect in this process instead."
    with feed_errors(url, FeedUnavailable, hint):
        async with connect(
            url,
            additional_headers={"Authorization": f"Bearer {token}"},
            ssl=tls,
            compression=None,
            logger=_ws_log,  # websockets' own logger would print the Authorization header at -v
        ) as ws:
            return await _session(ws, console, source=source, agency=agency, everything=everything)


async def _session(ws: Any, console: Console, *, source: str | None, agency: str | None, everything: bool) -> int:
    await ws.send(Hello(filter=Filter(observations=False)).model_dump_json(exclude_none=True))
    request = f"collect-{secrets.token_hex(4)}"
    command = {
        "type": "command",
        "id": request,
        "idempotency_key": f"{request}-{secrets.token_hex(8)}",
        "command": {"name": "collect", "source": source, "agency": agency, "all": everything},
    }
    sent = False
    wanted: set[str] = set()
    finished: list[RunInfo] = []
    user = ""
    try:
        async for raw in ws:
            message = SERVER_MESSAGE.validate_json(raw)
            if message.type == "welcome":
                user = message.user
                if message.role != "admin":
                    console.print(
                        f"[red]the token belongs to {message.user} ({message.role.value}); collecting needs admin[/]"
                    )
                    return 2
            elif message.type == "snapshot" and not sent:
                await ws.send(json.dumps(command))
                sent = True
            elif message.type == "error" and message.id == request:
                console.print(f"[red]refused: {message.message}[/]")
                return 2
            elif isinstance(message, Result) and message.id == request:
                if isinstance(message.data, CollectAccepted):
                    wanted = set(message.data.sources)
                    console.print(
                        f"collecting {len(wanted)} source{'s' if len(wanted) != 1 else ''} through the feed: {', '.join(sorted(wanted))}"
                    )
                    continue
                if not isinstance(message.data, CollectDone):
                    raise FeedUnavailable(f"unexpected answer to the collect command: {message.data.kind}")
                runs = message.data.runs
                shown = {r.id for r in finished}
                # The server sends `done` after the runs' events; show any this client did not see.
                for run_info in runs:
                    if run_info.id not in shown:
                        finished.append(run_info)
                        run = CollectionRun.model_validate(run_info.model_dump())
                        console.print(f"[{len(finished)}/{len(runs)}] {describe_run(run)}")
                ok = sum(r.outcome in ("success", "partial") for r in runs)
                console.print(f"done: {ok} of {len(runs)} runs succeeded")
                return 0 if ok == len(runs) else 1
            elif isinstance(message, RunStatus) and message.run.source in wanted and message.run.requested_by == user:
                if message.event == "started":
                    console.print(f"  started run #{message.run.id} {message.run.source}")
                else:
                    finished.append(message.run)
                    run = CollectionRun.model_validate(message.run.model_dump())
                    console.print(f"[{len(finished)}/{len(wanted)}] {describe_run(run)}")
    except ConnectionClosed as exc:
        code = exc.rcvd.code if exc.rcvd else None
        reason = "the token was refused" if code == CloseCode.UNAUTHENTICATED else f"closed ({code})"
        raise FeedUnavailable(f"the feed connection ended before the runs finished: {reason}") from None
    raise FeedUnavailable("the feed connection ended before the runs finished")


async def wait_for_feed(url: str, timeout: float = 10.0) -> None:
    """Until the feed answers (for the demo, which starts the server itself)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            async with connect(url, open_timeout=1, logger=_ws_log):
                return
        except InvalidStatus:
            return
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)
