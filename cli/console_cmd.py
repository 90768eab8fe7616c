"""`opscentre console`: the configuration read here (the console itself sees only the feed), the
token found, and the Textual app started."""

from __future__ import annotations

import ssl

from cli.config import Config
from cli.feed_collect import feed_url
from cli.tokens import read_token

DEMO_OPERATOR_TOKEN = "demo-operator"  # the built-in configuration's demo operator (documented there)


class ConsoleUnavailable(RuntimeError):
    pass


def console_token(token_file: str | None, builtin: bool) -> str:
    """From --token-file, else $OPSCENTRE_TOKEN, else (built-in demo configuration only) the demo operator's."""
    return read_token(token_file, DEMO_OPERATOR_TOKEN if builtin else None, "a token", ConsoleUnavailable)


def feed_target(config: Config, url: str | None, cafile: str | None) -> tuple[str, ssl.SSLContext | None]:
    """The feed's address (--url, else the configuration's) and, for wss://, the TLS context."""
    url = url or feed_url(config)
    if not url.startswith(("ws://", "wss://")):
        raise ConsoleUnavailable(f"--url must be a ws:// or wss:// address, not {url!r}")
    try:
        tls = ssl.create_default_context(cafile=cafile) if url.startswith("wss:") else None
    except OSError as exc:
        raise ConsoleUnavailable(f"cannot read the CA certificate {cafile}: {exc.strerror or exc}") from None
    return url, tls


def run_console(
    config: Config,
    *,
    url: str | None,
    token_file: str | None,
    builtin: bool,
    lang: str | None,
    cafile: str | None,
    login: bool = False,
) -> int:
    """``login``: take no token from anywhere; the console asks for it (console/login.py)."""
    from console.app import OpscentreApp  # Textual only for this command

    token = None if login else console_token(token_file, builtin)
    url, tls = feed_target(config, url, cafile)
    app = OpscentreApp(
        url, token, lang=lang or config.console.lang, keys=config.console.keys, ssl_context=tls, login=login
    )
    app.run()
    return 0
