"""The protocol's numbers: its version, the WebSocket close codes, the error codes of ``error``
messages, and the roles a token grants."""

from __future__ import annotations

from enum import StrEnum

PROTOCOL_VERSION = 1
# Identifiers and positions are SQLite integers: a bigger number is bad input, not an overflow later.
MAX_ID = 2**63 - 1


class CloseCode:
    """WebSocket close codes the server uses. Terminal ones tell the client not to retry."""

    GOING_AWAY = 1001  # server restart or shutdown: reconnect and resume
    PROTOCOL_ERROR = 1002
    INVALID_DATA = 1007  # a text frame that is not valid UTF-8 (sent by websockets itself)
    TOO_BIG = 1009  # a frame over the maximum message size
    TOO_SLOW = 4008  # the client fell too far behind: reconnect and resume
    RESYNC = 4009  # the server lost the client's place: reconnect (a snapshot follows)
    RATE_LIMITED = 4029  # a flood of commands: reconnect later
    UNAUTHENTICATED = 4401  # terminal: missing or wrong token
    FORBIDDEN = 4403  # terminal: origin not allowed

    TERMINAL = frozenset({UNAUTHENTICATED, FORBIDDEN})


class ErrorCode(StrEnum):
    BAD_JSON = "bad_json"  # the frame is not a JSON object
    BAD_MESSAGE = "bad_message"  # unknown type or wrong fields
    NOT_AUTHENTICATED = "not_authenticated"  # hello first
    FORBIDDEN = "forbidden"  # the role may not do this
    RATE_LIMITED = "rate_limited"
    NOT_FOUND = "not_found"
    INVALID = "invalid"  # a well-formed request the server cannot do (unknown source, alert not open, ...)
    INTERNAL = "internal"


class Role(StrEnum):
    READER = "reader"  # outside systems: the open data under /sdmx/v2/ only, never the WebSocket feed
    DISPLAY = "display"  # read the feed (and the open data)
    OPERATOR = "operator"  # read, acknowledge alerts
    ADMIN = "admin"  # also run collections

    def may(self, needed: Role) -> bool:
        """Each role may what the roles below it may: reader < display < operator < admin."""
        order = [Role.READER, Role.DISPLAY, Role.OPERATOR, Role.ADMIN]
        return order.index(self) >= order.index(needed)
