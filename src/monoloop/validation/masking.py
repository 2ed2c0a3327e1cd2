"""Masked samples: enough shape to recognise a value, never the value itself.

Every sample a report prints goes through here, so a raw e-mail address, card
number or name never reaches a terminal, a CI log, a merge-request comment or the
audit ledger. Numbers and dates are shown as they are only when the column is not
sensitive and the number is too short to be an identifier.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
import numbers
import re

_NON_DIGIT = re.compile(r"\D")
_MOSTLY_DIGITS = re.compile(r"^[\d\s().+/-]+$")
_LONG_NUMBER = 9  # digits: as long as an SSN, a phone or an account number


def mask_email(value: str) -> str:
    local, _, domain = value.partition("@")
    host, _, tld = domain.rpartition(".")
    if not host:
        return f"{local[:1]}***@***"
    return f"{local[:1]}***@{host[:1]}***.{tld}"


def mask_digits(value: str) -> str:
    digits = _NON_DIGIT.sub("", value)
    return "****" + digits[-4:] if len(digits) >= 8 else "****"


def mask_iban(value: str) -> str:
    compact = value.replace(" ", "")
    return compact[:2] + "****" + compact[-4:]


def mask_ip(value: str) -> str:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return "***"
    if address.version == 4:
        return value.split(".", 1)[0] + ".*.*.*"
    return value.split(":", 1)[0] + ":****"


def mask_text(value: str) -> str:
    """Any text: an e-mail or a number keeps its shape, anything else its first character."""
    text = value.strip()
    if not text:
        return '""'
    if "@" in text and " " not in text:
        return mask_email(text)
    if _MOSTLY_DIGITS.match(text) and len(_NON_DIGIT.sub("", text)) >= 5:
        return mask_digits(text)
    if len(text) == 1:
        return "*"
    return text[0] + "***"


def sample(value: object, *, sensitive: bool) -> str:
    """How a failing value appears in a report."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "null"
    item = getattr(value, "item", None)  # a numpy scalar: use the Python value
    if callable(item) and isinstance(value, numbers.Number):
        value = item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        text = _number(value)
        digits = len(_NON_DIGIT.sub("", text))
        return mask_digits(text) if sensitive or digits >= _LONG_NUMBER else text
    if isinstance(value, dt.date | dt.datetime):
        return "****-**-**" if sensitive else value.isoformat()
    text = str(value)
    if text in ("NaT", "nan", "<NA>"):
        return "null"
    return mask_text(text)


def _number(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)
