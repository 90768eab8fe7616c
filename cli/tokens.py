"""Where a command-line client finds its token: a file named on the command line, else the
``OPSCENTRE_TOKEN`` environment variable, else (with the built-in demo configuration only) the
demo user's. Never the command line itself: it shows in `ps` and in shell history."""

from __future__ import annotations

import os
from pathlib import Path


def read_token(token_file: str | None, demo_token: str | None, needed: str, error: type[Exception]) -> str:
    """The token, or ``error`` with a message that says what to do (``needed`` names the token)."""
    if token_file:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise error(f"cannot read the token file {token_file}: {exc.strerror}") from None
        if not token:
            raise error(f"the token file {token_file} is empty")
        return token
    if os.environ.get("OPSCENTRE_TOKEN"):
        return os.environ["OPSCENTRE_TOKEN"]
    if demo_token is not None:
        return demo_token
    raise error(f"{needed} is needed: --token-file FILE or the OPSCENTRE_TOKEN environment variable")
