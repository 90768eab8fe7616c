"""The open data's HTTP side: the token (``Authorization: Bearer``; every role may read, the reader
role nothing else), the rate per token (the feed's ``queries_per_minute``), the format by ``Accept``,
the audit of every read and refusal, and clear errors: 401, 404, 400, 406, 429, each saying why."""

from __future__ import annotations

import logging
from datetime import datetime
from http import HTTPStatus

from websockets.datastructures import MultipleValuesError
from websockets.http11 import Request, Response

from feed.answers import response, text
from feed.auth import User, Users
from feed.commands import Bucket
from feed.protocol import Role
from feed.sdmx import formats
from feed.sdmx.data import select
from feed.sdmx.query import BadRequest, NotFound, data_query, split_path, structure_query
from feed.sdmx.structure import DSD, FLOW, Reference, artefacts, structure_message
from storage import Store
from storage.clock import utcnow

log = logging.getLogger(__name__)

STRUCTURE_FORMATS = {formats.STRUCTURE_XML: formats.STRUCTURE_XML, "application/xml": formats.STRUCTURE_XML}
DATA_ALIASES = {"text/csv": formats.CSV, "application/json": formats.JSON, "application/xml": formats.XML}
DEFAULT_DATA = formats.JSON  # the REST API 2.0's default for data
UNAUTHORIZED = [("WWW-Authenticate", 'Bearer realm="opscentre open data"')]


class NotAcceptable(ValueError):
    """406: none of the formats the client accepts."""


def _media(text_: str) -> tuple[str, dict[str, str], float]:
    kind, *params = [p.strip() for p in text_.split(";")]
    named = dict(p.partition("=")[::2] for p in params if "=" in p)
    named = {k.strip().lower(): v.strip().strip('"') for k, v in named.items()}
    try:
        q = float(named.pop("q", "1"))
    except ValueError:
        q = 0.0
    return kind.lower(), named, q


def negotiate(accept: str | None, offered: dict[str, str], default: str) -> str:
    """The format to answer in: the first acceptable of the client's ranges, by quality."""
    if not accept:
        return default
    ranges = sorted((_media(r) for r in accept.split(",") if r.strip()), key=lambda m: -m[2])
    for kind, params, q in ranges:
        if q <= 0:
            continue
        if kind in ("*/*", "application/*"):
            return default
        for name, ours in offered.items():
            our_kind, our_params, _ = _media(name)
            version = params.get("version")
            if kind == our_kind and (version is None or version == our_params.get("version")):
                return ours
    raise NotAcceptable(
        f"none of the accepted formats ({accept[:200]}) is served here; ask for one of: {', '.join(offered)}"
    )


class OpenData:
    def __init__(self, store: Store, users: Users, per_minute: int) -> None:
        self.store = store
        self.users = users
        self.per_minute = per_minute
        self._buckets: dict[str, Bucket] = {}

    async def answer(self, request: Request, path: str, query: str) -> Response:
        try:
            auth = request.headers.get("Authorization")
            accept = request.headers.get("Accept")
        except MultipleValuesError as exc:
            return text(HTTPStatus.BAD_REQUEST, f"more than one {exc.args[0]} header\n")
        user = self.users.bearer(auth) if auth else None
        if user is None:
            why = "wrong or unknown token" if auth else "no token: send Authorization: Bearer TOKEN"
            return text(HTTPStatus.UNAUTHORIZED, why + "\n", UNAUTHORIZED)
        bucket = self._buckets.setdefault(user.name, Bucket.per_minute(self.per_minute))
        if not bucket.take():
            wait = max(1, round(1 / bucket.rate))
            message = f"too many requests: at most {self.per_minute} a minute; slow down\n"
            return text(HTTPStatus.TOO_MANY_REQUESTS, message, [("Retry-After", str(wait))])
        parts = split_path(path)
        target = "/".join(parts)[:300]
        try:
            if not user.role.may(Role.READER):  # every role may; kept so that a lower one could not
                raise PermissionError(f"the {user.role.value} role may not read the open data")
            if parts and parts[0] == "structure":
                body, media, count = await self._structure(parts, query, accept)
            elif parts and parts[0] == "data":
                body, media, count = await self._data(parts, query, accept)
            else:
                raise NotFound(f"not found: {path[:200]}; the paths are /sdmx/v2/structure/... and /sdmx/v2/data/...")
        except (BadRequest, NotFound, NotAcceptable, PermissionError) as exc:
            status = {
                BadRequest: HTTPStatus.BAD_REQUEST,
                NotFound: HTTPStatus.NOT_FOUND,
                NotAcceptable: HTTPStatus.NOT_ACCEPTABLE,
                PermissionError: HTTPStatus.FORBIDDEN,
            }[type(exc)]
            await self._audit(user, "opendata.refused", target, {"status": status.value, "reason": str(exc)[:300]})
            return text(status, f"{exc}\n")
        await self._audit(user, "opendata.read", target, {"format": media, "items": count, "query": query[:500]})
        return response(HTTPStatus.OK, body, media)

    async def _audit(self, user: User, action: str, target: str, details: dict[str, object]) -> None:
        await self.store.audit.record(user.name, user.role.value, action, target, details)

    async def _reference(self) -> Reference:
        catalogue = self.store.reference.catalogue
        return Reference(self.store.reference.listed(), dict(catalogue.areas))

    async def _structure(self, parts: list[str], query: str, accept: str | None) -> tuple[bytes, str, int]:
        q = structure_query(parts, query)
        media = negotiate(accept, STRUCTURE_FORMATS, formats.STRUCTURE_XML)
        every = artefacts(await self._reference())
        chosen = {k: {i: e for i, e in every[k].items() if q.id in ("*", i)} for k in q.kinds}
        if not any(chosen.values()):
            raise NotFound(f"no {'/'.join(q.kinds)} {q.id!r}: this service has dataflow {FLOW}, datastructure {DSD}")
        if q.references:  # what the chosen ones refer to: the flow its structure, the structure the rest
            if chosen.get("dataflow"):
                chosen["datastructure"] = every["datastructure"]
            if chosen.get("datastructure"):
                chosen |= {"codelist": every["codelist"], "conceptscheme": every["conceptscheme"]}
        count = sum(len(v) for v in chosen.values())
        return structure_message(chosen, _now()), media, count

    async def _data(self, parts: list[str], query: str, accept: str | None) -> tuple[bytes, str, int]:
        q = data_query(parts, query)
        offered = {formats.CSV: formats.CSV, formats.JSON: formats.JSON, formats.XML: formats.XML}
        offered |= {formats.XML_REST: formats.XML, **DATA_ALIASES}
        media = negotiate(accept, offered, DEFAULT_DATA)
        rows = await select(self.store, q)
        body = formats.DATA_FORMATS[media](rows, q.include_history, q.dimension_at_observation, _now())
        content_type = media + ("; charset=utf-8" if media == formats.CSV else "")
        return body, content_type, len(rows)


def _now() -> datetime:
    return utcnow()
