"""The leaders' briefings over the feed (issue 19): the ``briefings`` query lists those kept in the
store (feed/queries.py), and ``GET /briefings/{id}`` on the feed's address serves one's document.

Both need the operator role or above: a briefing is a document for the Government's meeting, not a
wall screen's. The download is authorised as a non-browser client's handshake is: ``Authorization:
Bearer TOKEN`` (never a token in the URL: the server refuses every query string), and audited like a
command (refusals of a known user too): who took which briefing, when.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus

from websockets.datastructures import MultipleValuesError
from websockets.http11 import Request, Response

from feed.answers import response, text
from feed.auth import Users
from feed.protocol import BriefingInfo, Role
from storage import Store
from storage.repos.briefings import Briefing

log = logging.getLogger(__name__)

BRIEFING_PATH = re.compile(r"/briefings/([^/]+)")
READS_BRIEFINGS = Role.OPERATOR  # lists and downloads them
CHALLENGE = (("WWW-Authenticate", 'Bearer realm="opscentre"'),)
MAX_ID_DIGITS = 18  # below 2**63: a longer number is no briefing's


def briefing_info(b: Briefing) -> BriefingInfo:
    return BriefingInfo.model_validate(
        {
            "id": b.id,
            "period": b.period,
            "lang": b.lang,
            "format": b.format,
            "as_of": b.as_of,
            "content_digest": b.content_digest,
            "size": b.size,
            "made_at": b.made_at,
            "made_by": b.made_by,
        }
    )


def refusal(role: Role, what: str) -> str:
    return f"the {role.value} role may not {what}; it needs {READS_BRIEFINGS.value}"


async def download(store: Store, users: Users, request: Request, path: str) -> Response:
    """``GET /briefings/{id}``: 401 without a known bearer token, 403 below operator, 404 for an unknown
    id; else the document as made, with its media type and a file name to save it under."""
    try:
        auth = request.headers.get("Authorization")
    except MultipleValuesError:
        return text(HTTPStatus.BAD_REQUEST, "more than one Authorization header\n")
    if auth is None:
        return text(
            HTTPStatus.UNAUTHORIZED, "a briefing is downloaded with the header Authorization: Bearer TOKEN\n", CHALLENGE
        )
    scheme, _, token = auth.partition(" ")
    user = users.check(token.strip()) if scheme.lower() == "bearer" else None
    if user is None:
        log.warning("refused a briefing download (%s): wrong or unknown token", path[:100])
        return text(HTTPStatus.UNAUTHORIZED, "wrong or unknown token\n", CHALLENGE)
    match = BRIEFING_PATH.fullmatch(path)
    asked = match[1] if match else ""
    target = f"briefing:{asked[:40]}"
    if not user.role.may(READS_BRIEFINGS):
        await store.audit.record(user.name, user.role.value, "briefing.download.refused", target, {"why": "role"})
        return text(HTTPStatus.FORBIDDEN, refusal(user.role, "download briefings") + "\n")
    found = await store.briefings.get(int(asked)) if asked.isdigit() and len(asked) <= MAX_ID_DIGITS else None
    body = await store.briefings.body(found.id) if found is not None else None
    if found is None or body is None:
        await store.audit.record(user.name, user.role.value, "briefing.download.refused", target, {"why": "not_found"})
        return text(HTTPStatus.NOT_FOUND, f"no briefing {asked[:40]!r}\n")
    details = {"period": found.period, "lang": found.lang, "format": found.format, "digest": found.content_digest}
    await store.audit.record(user.name, user.role.value, "briefing.download", target, details)
    disposition = ("Content-Disposition", f'attachment; filename="{found.filename}"')
    return response(HTTPStatus.OK, body, found.media_type, cache="private, no-store", extra=[disposition])
