"""API tokens as plain data: their format, their scopes, and how long they live.

A token is `mlt_<16 hex id>_<43 characters of urlsafe base64>`: the id finds its row, the
rest is 256 random bits. Only SHA-256 of the whole token is stored, compared in constant
time. Scopes are ordered, each including the ones before it:

    read < write < promote < admin

read: look at runs, models, objects and the ledger; write: log runs, upload objects,
register versions, run gate checks; promote: move aliases (promote, rollback, set an
alias), force a promotion, trust a pickle; admin: manage tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from monoloop.errors import InvalidInput

SCOPES = ("read", "write", "promote", "admin")
PREFIX = "mlt_"
_TOKEN = re.compile(r"^mlt_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$")
_DURATION = re.compile(r"^(\d+)([mhdw])$")
_UNIT_S = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def check_scope(scope: str) -> str:
    if scope not in SCOPES:
        raise InvalidInput(f"unknown scope {scope!r}", hint="use one of: " + ", ".join(SCOPES))
    return scope


def includes(have: str, need: str) -> bool:
    """Whether a token of scope `have` may do what needs `need`."""
    return SCOPES.index(have) >= SCOPES.index(need)


def strongest(scopes: list[str]) -> str:
    return max(scopes, key=SCOPES.index) if scopes else SCOPES[0]


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput(
            f"invalid token name {name!r}",
            hint="a token name is 1-100 letters, digits, '.', '_', '@', '+' or '-', "
            "starting with a letter or digit, e.g. ci-bot or alice@example.com",
        )
    return name


def new_token() -> tuple[str, str]:
    """A fresh (id, token)."""
    token_id = secrets.token_hex(8)
    return token_id, f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"


def parse(token: str) -> str | None:
    """The id of a well-formed token, or None."""
    match = _TOKEN.match(token)
    return match[1] if match else None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def matches(token: str, stored: str) -> bool:
    return hmac.compare_digest(digest(token), stored)


def parse_duration(text: str) -> float:
    """Seconds in `30d`, `12h`, `90m` or `2w`."""
    match = _DURATION.match(text.strip().lower())
    if match is None or int(match[1]) == 0:
        raise InvalidInput(
            f"not a duration: {text!r}", hint="write a number and a unit: 90m, 12h, 30d or 2w"
        )
    return float(int(match[1]) * _UNIT_S[match[2]])
