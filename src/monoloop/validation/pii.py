"""PII detectors: pure functions over text, and a vectorised scan over whole columns.

Each detector has three parts. A *prefilter*, an RE2 expression that pyarrow runs
over a whole column in C++, keeps only the cells that could hold a match. A Python
*finder* then extracts candidates from those cells alone, and a *validator* keeps
the candidates that pass a checksum or a range rule (Luhn for card numbers,
ISO 7064 mod 97 for IBANs, SSA rules for SSNs, numbering plans for phones), which
is what separates a card number from an order number that merely looks like one.
Where RE2 alone is exact (e-mail, IPv4), no per-cell Python runs at all.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from monoloop.validation.masking import mask_digits, mask_email, mask_iban, mask_ip

# ---------------------------------------------------------------- checksums and rules


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) checksum of a string of digits."""
    if not digits.isdigit() or not digits.isascii():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_check_digit(payload: str) -> str:
    """The digit that makes `payload + digit` pass Luhn."""
    for d in "0123456789":
        if luhn_valid(payload + d):
            return d
    raise AssertionError("unreachable: one of ten digits always completes a Luhn number")


# Length of the IBAN of each country in the SWIFT IBAN registry.
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24,
    "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31,
    "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


def iban_mod97(iban: str) -> int:
    """ISO 7064 mod 97-10 of an IBAN (letters as 10..35, first four characters moved last)."""
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97


def iban_valid(text: str) -> bool:
    """A well-formed IBAN: known country, that country's length, and mod 97 == 1."""
    compact = text.replace(" ", "")
    length = IBAN_LENGTHS.get(compact[:2])
    if length is None or len(compact) != length or not compact.isascii():
        return False
    if not (
        compact[2:4].isdigit() and compact[4:].isalnum() and compact[4:].upper() == compact[4:]
    ):
        return False
    return iban_mod97(compact) == 1


def iban_prefix(candidate: str) -> str:
    """The text of the valid IBAN that starts `candidate`, ending at a group boundary, or "".

    The finder is greedy and may run on into a following code (`... 0130 00 AND`);
    the country's length says where the IBAN really ends.
    """
    length = IBAN_LENGTHS.get(candidate[:2])
    if length is None:
        return ""
    taken = 0
    for end, ch in enumerate(candidate):
        if ch != " ":
            taken += 1
        if taken == length:
            if end + 1 < len(candidate) and candidate[end + 1] != " ":
                return ""
            text = candidate[: end + 1]
            return text if iban_valid(text) else ""
    return ""


def iban_check_digits(country: str, bban: str) -> str:
    """The two check digits that make `country + digits + bban` a valid IBAN."""
    return f"{98 - iban_mod97(country + '00' + bban):02d}"


_CARD_LENGTHS: tuple[tuple[tuple[int, int], range], ...] = (
    ((4, 4), range(16, 20)),  # Visa (13-digit Visa is retired; EAN-13 barcodes look like it)
    ((51, 55), range(16, 17)),  # Mastercard
    ((2221, 2720), range(16, 17)),  # Mastercard 2-series
    ((34, 34), range(15, 16)),  # American Express
    ((37, 37), range(15, 16)),
    ((6011, 6011), range(16, 20)),  # Discover
    ((644, 649), range(16, 20)),
    ((65, 65), range(16, 20)),
    ((3528, 3589), range(16, 20)),  # JCB
    ((300, 305), range(14, 20)),  # Diners Club
    ((36, 36), range(14, 20)),
    ((38, 39), range(14, 20)),
    ((62, 62), range(16, 20)),  # UnionPay
    ((5018, 5018), range(13, 20)),  # Maestro
    ((5020, 5020), range(13, 20)),
    ((5038, 5038), range(13, 20)),
    ((6304, 6304), range(13, 20)),
    ((6759, 6759), range(13, 20)),
    ((6761, 6763), range(13, 20)),
)


def card_valid(text: str) -> bool:
    """A payment card number: an issuer's prefix and length, and the Luhn checksum."""
    digits = text.replace(" ", "").replace("-", "")
    if not 13 <= len(digits) <= 19 or not digits.isdigit() or len(set(digits)) < 2:
        return False
    issuer = any(
        lo <= int(digits[: len(str(lo))]) <= hi and len(digits) in lengths
        for (lo, hi), lengths in _CARD_LENGTHS
    )
    return issuer and luhn_valid(digits)


_SSN_NEVER = {"078051120", "219099999", "123456789"}  # advertised or test numbers


def ssn_valid(text: str) -> bool:
    """A US SSN as the SSA issues them: no 000/666/9xx area, no 00 group, no 0000 serial."""
    digits = text.replace("-", "").replace(" ", "")
    if len(digits) != 9 or not digits.isdigit() or digits in _SSN_NEVER:
        return False
    area, group, serial = int(digits[:3]), int(digits[3:5]), int(digits[5:])
    return area not in (0, 666) and area < 900 and group != 0 and serial != 0


def phone_valid(text: str) -> bool:
    """E.164 with a leading +, or a North American number with a valid area and exchange."""
    digits = re.sub(r"\D", "", text)
    if text.startswith("+"):
        return 8 <= len(digits) <= 15 and digits[0] != "0"
    if len(digits) != 10:
        return False
    return digits[0] in "23456789" and digits[3] in "23456789" and digits[1:3] != "11"


def ipv6_valid(text: str) -> bool:
    groups = [g for g in text.split(":") if g]
    if len(groups) < 2 or sum(len(g) for g in groups) < 4:
        return False  # `a::b` in C++ or prose is not an address
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------- detectors

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = rf"(?:{_OCTET}\.){{3}}{_OCTET}"
# "release 2.1.0.4" is a version, not an address; a bare 2.1.0.4 stays ambiguous.
_VERSION_WORDS = ("version", "release", "build", "firmware", "ver")
_NOT_AFTER_VERSION = "".join(f"(?<!(?i:{w}) )" for w in _VERSION_WORDS)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_EMAIL = rf"[A-Za-z0-9._%+-]+@{_LABEL}(?:\.{_LABEL})*\.[A-Za-z]{{2,}}\b"
# Image names like icon@2x.png have an e-mail's shape; their cells get a second look.
_FILE_TLDS = frozenset(
    ("png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "pdf",
     "js", "css", "htm", "html", "txt", "csv", "json")
)  # fmt: skip


def _email_valid(text: str) -> bool:
    return text.rsplit(".", 1)[-1].lower() not in _FILE_TLDS


@dataclass(frozen=True)
class Detector:
    name: str
    kind: str  # what reports call it: both IP detectors report `ip`
    prefilter: str  # RE2, run over whole columns: every cell with a real match must match it
    finder: re.Pattern[str]  # Python: candidates in one cell
    valid: Callable[[str], bool]
    mask: Callable[[str], str]
    trim: Callable[[str], str] | None = None  # the part of a candidate that is the value
    exact: bool = False  # the RE2 prefilter alone decides ...
    exact_unless: str | None = None  # ... except in cells that also match this


DETECTORS: tuple[Detector, ...] = (
    Detector(
        "email",
        "email",
        _EMAIL,
        re.compile(rf"(?<![A-Za-z0-9._%+-]){_EMAIL}", re.ASCII),
        _email_valid,
        mask_email,
        exact=True,
        exact_unless=r"@[A-Za-z0-9.-]*\.(?i:" + "|".join(sorted(_FILE_TLDS)) + r")\b",
    ),
    Detector(
        "iban",
        "iban",
        r"[A-Z]{2}\d{2} ?[A-Z0-9]",
        re.compile(
            r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{1,4}){3,8}(?![A-Za-z0-9])", re.ASCII
        ),
        lambda text: bool(iban_prefix(text)),
        mask_iban,
        trim=iban_prefix,
    ),
    Detector(
        "card",
        "card",
        r"\d(?:[ -]?\d){12,18}",
        # A whole run of digit groups, not a stretch inside a longer one (an IBAN, a tracking code).
        re.compile(r"(?<![\w-])(?<!\d[ -])\d(?:[ -]?\d){12,18}(?![\w-]|[ -]\d)", re.ASCII),
        card_valid,
        mask_digits,
    ),
    Detector(
        "ssn",
        "ssn",
        r"\d{3}[- ]\d{2}[- ]\d{4}",
        re.compile(r"(?<![\w-])(?<!\d[ -])\d{3}([- ])\d{2}\1\d{4}(?![\w-]|[ -]\d)", re.ASCII),
        ssn_valid,
        mask_digits,
    ),
    Detector(
        "phone",
        "phone",
        r"\+\d|\d{3}[-. ]\d{3}[-. ]\d{4}|\(\d{3}\) ?\d{3}[-. ]\d{4}",
        re.compile(
            r"(?<![\w+])\+\d{1,4}(?:[ .-]?(?:\(\d{1,5}\)|\d{1,5})){1,6}(?![\w-])"
            r"|(?<![\w+])(?:\(\d{3}\) ?|\d{3}[-. ])\d{3}[-. ]\d{4}(?![\w-])",
            re.ASCII,
        ),
        phone_valid,
        mask_digits,
    ),
    Detector(
        "ip",
        "ip",
        rf"(?:^|[^\w.]){_IPV4}(?:$|[^\w.]|\.(?:$|\s))",
        re.compile(rf"(?<![\w.]){_NOT_AFTER_VERSION}{_IPV4}(?=$|[^\w.]|\.(?:$|\s))", re.ASCII),
        lambda _text: True,
        mask_ip,
        exact=True,
        exact_unless=rf"(?i)(?:{'|'.join(_VERSION_WORDS)}) \d",
    ),
    Detector(
        "ipv6",
        "ip",
        r"[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:",
        re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])", re.ASCII),
        ipv6_valid,
        mask_ip,
    ),
)


@dataclass(frozen=True)
class Match:
    detector: str
    start: int
    end: int
    masked: str


def find(text: str) -> list[Match]:
    """Every PII value in one string, masked; the reference the column scan must agree with.

    Where matches overlap, the earlier detector in DETECTORS wins: the digits inside a
    spaced IBAN are not also a card number.
    """
    kept: list[Match] = []
    for det in DETECTORS:
        for match in matches(det, text):
            if not any(match.start < k.end and k.start < match.end for k in kept):
                kept.append(match)
    return sorted(kept, key=lambda m: (m.start, m.detector))


def matches(det: Detector, text: str) -> Iterator[Match]:
    for m in det.finder.finditer(text):
        value = m.group()
        if det.valid(value):
            value = det.trim(value) if det.trim else value
            yield Match(det.kind, m.start(), m.start() + len(value), det.mask(value))


def detect(det: Detector, text: str) -> bool:
    return any(True for _ in matches(det, text))


# ---------------------------------------------------------------- column names

# Token sequences in a column's name that suggest personal data, by category.
_NAME_HINTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "email": (("email",), ("e", "mail"), ("mail",), ("emailaddress",)),
    "phone": (("phone",), ("mobile",), ("telephone",), ("tel",), ("fax",), ("msisdn",)),
    "ip": (("ip",), ("ipv4",), ("ipv6",), ("ipaddress",)),
    "card": (("card", "number"), ("credit", "card"), ("cc", "number"), ("ccn",), ("pan",)),
    "iban": (("iban",), ("bank", "account"), ("account", "number")),
    "ssn": (("ssn",), ("social", "security"), ("national", "id"), ("passport",), ("tax", "id")),
    "person": (
        ("first", "name"), ("last", "name"), ("full", "name"), ("given", "name"),
        ("middle", "name"), ("maiden", "name"), ("firstname",), ("lastname",), ("fullname",),
        ("surname",), ("forename",), ("customer", "name"), ("username",), ("user", "name"),
    ),
    "address": (
        ("address",), ("street",), ("zip",), ("zipcode",), ("postcode",), ("postal", "code"),
    ),
    "birth": (("dob",), ("birth",), ("birthday",), ("birthdate",)),
    "sensitive": (("gender",), ("ethnicity",), ("religion",), ("health",), ("diagnosis",)),
}  # fmt: skip
_TOKEN = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def name_tokens(column: str) -> list[str]:
    """`customerEmail_2` -> ['customer', 'email', '2']."""
    return [t.lower() for t in _TOKEN.findall(column)]


def name_hint(column: str) -> str | None:
    """The kind of personal data a column's name suggests, if any."""
    tokens = name_tokens(column)
    if tokens == ["name"]:
        return "person"
    # Categories are tried in order, so `email_address` is an e-mail, not an address.
    for category, phrases in _NAME_HINTS.items():
        for phrase in phrases:
            n = len(phrase)
            if any(tuple(tokens[i : i + n]) == phrase for i in range(len(tokens) - n + 1)):
                return category
    return None
