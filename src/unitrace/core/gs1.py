"""GS1 identifiers in and out: the one place that reads and writes GS1 element strings,
bracketed strings and GS1 Digital Link URIs.

Reading is strict, as GS1's reference parser (the GS1 Syntax Engine, default options) is:
every AI is checked against GS1's Barcode Syntax Dictionary (`gs1-syntax-dictionary.txt`, the
file the engine is built from) — its data types, lengths and the "linters" it names (check
digits, dates, country and currency codes …) — and a Digital Link URI against the rules of
the Digital Link standard (primary key and key qualifiers in the path in GS1's order, data
attributes in the query, no duplicate AIs, a GTIN of 14 digits). `biip` reads the symbology
identifiers and computes the check digits; the dictionary drives the rest, so an AI GS1 adds
is one line of data, not code.

Associations between AIs (the dictionary's `req=`) are not checked by `parse`, as the engine's
parsers do not check them; `associations` lists what is missing for a caller that wants them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import quote

from biip.checksums import gs1_standard_check_digit
from biip.symbology import SymbologyIdentifier

from unitrace.core.errors import FieldError, ValidationError

GS = "\x1d"
DEFAULT_STEM = "https://id.gs1.org"
MAX_AIS = 64  # as the engine: more AIs than this in one message is refused
MAX_VALUE = 90
Linter = Callable[[str], str | None]  # a GS1 linter: what is wrong with a component, or None

__all__ = [
    "DEFAULT_STEM",
    "GS",
    "Element",
    "Gs1Data",
    "associations",
    "bracketed",
    "digital_link",
    "element_string",
    "gtin14",
    "looks_like_gs1",
    "parse",
    "sgtin_urn",
    "unit_elements",
]


@dataclass(frozen=True)
class Element:
    """One AI and its value, e.g. `Element("01", "09506000134352")`."""

    ai: str
    value: str


@dataclass(frozen=True)
class Gs1Data:
    elements: tuple[Element, ...]
    form: str  # "element_string" | "bracketed" | "digital_link"

    def get(self, ai: str) -> str | None:
        return next((e.value for e in self.elements if e.ai == ai), None)

    @property
    def gtin(self) -> str | None:
        return self.get("01")

    @property
    def serial(self) -> str | None:
        return self.get("21")

    @property
    def lot(self) -> str | None:
        return self.get("10")

    @property
    def sscc(self) -> str | None:
        return self.get("00")

    @property
    def expiry(self) -> date | None:
        value = self.get("17")
        return None if value is None else yymmdd_date(value)

    def as_dict(self) -> dict[str, object]:
        return {
            "form": self.form,
            "elements": [{"ai": e.ai, "value": e.value} for e in self.elements],
            "gtin": self.gtin,
            "serial": self.serial,
            "lot": self.lot,
            "expiry": None if self.expiry is None else self.expiry.isoformat(),
        }


def yymmdd_date(value: str, today: date | None = None) -> date:
    """A GS1 YYMMDD date: the century by GS1's sliding window (General Specifications 7.12:
    up to 49 years ahead, 50 back), DD = 00 the last day of the month."""
    today = today or date.today()
    yy, month, day = int(value[0:2]), int(value[2:4]), int(value[4:6])
    year = today.year - today.year % 100 + yy
    if year - today.year >= 51:
        year -= 100
    elif year - today.year <= -50:
        year += 100
    if day == 0:
        day = _month_days(year, month)
    return date(year, month, day)


def _month_days(year: int, month: int) -> int:
    if month == 2:
        return 29 if (year % 4 == 0 and year % 100 != 0) or year % 400 == 0 else 28
    return 30 if month in (4, 6, 9, 11) else 31


# --- the GS1 Barcode Syntax Dictionary --------------------------------------------------------


@dataclass(frozen=True)
class _Part:
    kind: str  # N X Y Z
    least: int
    most: int
    optional: bool
    linters: tuple[str, ...]


@dataclass(frozen=True)
class _Spec:
    ai: str
    predefined: bool  # "*": a predefined length, no FNC1 after it
    attribute: bool  # "?": a Digital Link data attribute (may be in the query)
    parts: tuple[_Part, ...]
    req: tuple[tuple[str, ...], ...]  # each: alternatives, each alternative "01+21"
    ex: tuple[str, ...]
    dlpkey: tuple[tuple[str, ...], ...] | None  # qualifier sequences; None: not a key
    title: str

    @property
    def least(self) -> int:
        return sum(p.least for p in self.parts if not p.optional)

    @property
    def most(self) -> int:
        return sum(p.most for p in self.parts)


_PART = re.compile(r"^(\[)?([NXYZ])(\d+|\.\.\d+)(\])?((?:,\w+)*)$")


def _expand(ais: str) -> list[str]:
    if "-" not in ais:
        return [ais]
    first, last = ais.split("-")
    return [str(n).zfill(len(first)) for n in range(int(first), int(last) + 1)]


def _parse_line(line: str) -> list[_Spec]:
    text, _, title = line.partition("#")
    tokens = text.split()
    ais, rest = tokens[0], tokens[1:]
    flags = ""
    if rest and not _PART.match(rest[0]) and "=" not in rest[0] and rest[0] != "dlpkey":
        flags, rest = rest[0], rest[1:]
    parts: list[_Part] = []
    req: list[tuple[str, ...]] = []
    ex: list[str] = []
    dlpkey: tuple[tuple[str, ...], ...] | None = None
    for token in rest:
        match = _PART.match(token)
        if match:
            opened, kind, length, _closed, linters = match.groups()
            if length.startswith(".."):
                least, most = 1, int(length[2:])
            else:
                least = most = int(length)
            names = tuple(n for n in linters.split(",") if n)
            parts.append(_Part(kind, least, most, bool(opened), names))
        elif token == "dlpkey":
            dlpkey = ((),)
        elif token.startswith("dlpkey="):
            dlpkey = tuple(tuple(alt.split(",")) for alt in token[7:].split("|"))
        elif token.startswith("req="):
            req.append(tuple(token[4:].split(",")))
        elif token.startswith("ex="):
            ex.extend(token[3:].split(","))
        else:  # pragma: no cover - the dictionary's grammar has nothing else
            raise ValueError(f"GS1 syntax dictionary: cannot read {token!r} in {line!r}")
    return [
        _Spec(
            ai,
            "*" in flags,
            "?" in flags,
            tuple(parts),
            tuple(req),
            tuple(ex),
            dlpkey,
            title.strip(),
        )
        for ai in _expand(ais)
    ]


@functools.cache
def _dictionary() -> dict[str, _Spec]:
    path = Path(__file__).with_name("gs1-syntax-dictionary.txt")
    table: dict[str, _Spec] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        for spec in _parse_line(line):
            table[spec.ai] = spec
    return table


def _spec(ai: str) -> _Spec | None:
    return _dictionary().get(ai)


def _ai_at(data: str, pos: int) -> _Spec | None:
    """The AI an element string holds at `pos` (the table is prefix-free)."""
    for length in (2, 3, 4):
        spec = _spec(data[pos : pos + length])
        if spec is not None and data[pos : pos + length].isdigit():
            return spec
    return None


def ai_title(ai: str) -> str | None:
    """GS1's short title of an AI (`SERIAL`), or None when GS1 has not allocated it."""
    spec = _spec(ai)
    return spec.title if spec else None


# --- character sets and linters ---------------------------------------------------------------

_CSET82 = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
_CSET39 = frozenset("#-/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_CSET64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")
_CSETS = {
    "N": (frozenset("0123456789"), "digits only"),
    "X": (_CSET82, "GS1 character set 82"),
    "Y": (_CSET39, "GS1 character set 39"),
    "Z": (_CSET64, "GS1 character set 64 (base64url)"),
}


def _words(text: str) -> tuple[int, ...]:
    """A bit table written as 64-bit hex words, most significant bit first (as the engine's)."""
    return tuple(int(word, 16) for word in text.split())


def _bitfield(words: tuple[int, ...], index: int) -> bool:
    word, bit = divmod(index, 64)
    return index >= 0 and word < len(words) and bool(words[word] >> (63 - bit) & 1)


# the engine's tables of ISO 3166 numeric, ISO 4217 numeric and ISO 3166 alpha-2 codes
_ISO3166 = _words(
    "08a888898888b888 8aa80a2888888888 0888888a22232889 88188a2221e322a2 "
    "2a2a180088888888 888a888888888888 888288a2622a22a2 222222228808b888 "
    "8888970808222222 2de102888888a222 320a1b222222a203 e20808c8088888a8 "
    "8888889a89002021 e080222a00082102 0000000000000000 0000000000000000 "
)
_ISO4217 = _words(
    "008800008808b808 8880082080880808 0880808800220008 8010820202822000 "
    "0202000008000000 8888088888888080 088a88a262222002 022200008800a080 "
    "88080c0008220200 2022028880000020 1202000000202002 a200008000088888 "
    "0088880081002020 2080002800002200 0400000fe6adbfdf fdfdfce225000000 "
)
_ISO3166_ALPHA2 = _words(
    "1e9afb77f7bdbb7b e4fc21a8012b0070 003a900df9dfa800 b160181ef00202c0 "
    "00b8d42f8281f2bf 3fffeba4d2100080 023cf1ca80000002 008a8fbfe75cddf9 "
    "59820820eaa10200 4002000000000800 1020020080000000 "
)
_MEDIA_TYPES = frozenset(range(1, 11)) | frozenset(range(80, 100))


def _digits(value: str) -> bool:
    return value.isascii() and value.isdigit()


def _csum(value: str) -> str | None:
    if not _digits(value):
        return "digits only"
    if str(gs1_standard_check_digit(value[:-1])) != value[-1]:
        return f"bad check digit (expected {gs1_standard_check_digit(value[:-1])})"
    return None


_CSET32 = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_CSET82_ORDER = (
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
_PRIMES = tuple(n for n in range(2, 504) if all(n % d for d in range(2, n)))[:96]


def _csumalpha(value: str) -> str | None:
    if len(value) < 2:
        return "too short for a check character pair"
    body = value[:-2]
    if any(c not in _CSET82 for c in body):
        return "not in GS1 character set 82"
    total = (
        sum(_CSET82_ORDER.index(c) * _PRIMES[len(body) - 1 - i] for i, c in enumerate(body)) % 1021
    )
    if value[-2:] != _CSET32[total >> 5] + _CSET32[total & 31]:
        return "bad check character pair"
    return None


def _gcp(value: str) -> str | None:
    if len(value) < 4 or not _digits(value[:4]):
        return "does not start with a GS1 Company Prefix"
    return None


def _date(value: str, century: bool, zero_day: bool) -> str | None:
    if not _digits(value) or len(value) != (8 if century else 6):
        return "not a date"
    year = int(value[:4]) if century else 2000 + int(value[:2])
    month, day = int(value[-4:-2]), int(value[-2:])
    if not 1 <= month <= 12:
        return "not a date (month)"
    if day == 0 and zero_day:
        return None
    if not 1 <= day <= _month_days(year, month):
        return "not a date (day)"
    return None


def _number(least: int, most: int, what: str) -> Linter:
    def check(value: str) -> str | None:
        if not _digits(value) or not least <= int(value) <= most:
            return f"not {what}"
        return None

    return check


def _pieceoftotal(value: str) -> str | None:
    if not _digits(value) or len(value) % 2 or not value:
        return "not a piece of a total"
    piece, total = int(value[: len(value) // 2]), int(value[len(value) // 2 :])
    if piece == 0 or total == 0 or piece > total:
        return "piece number not within the total"
    return None


def _posinseqslash(value: str) -> str | None:
    match = re.fullmatch(r"([1-9]\d*)/([1-9]\d*)", value)
    if not match or int(match[1]) > int(match[2]):
        return "not a position in a sequence (n/m)"
    return None


def _pcenc(value: str) -> str | None:
    for i, c in enumerate(value):
        if c == "%" and (
            i + 2 >= len(value)
            or not all(ch in "0123456789abcdefABCDEF" for ch in value[i + 1 : i + 3])
        ):
            return "bad percent-encoding"
    return None


def _iban(value: str) -> str | None:
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{1,30}", value) or len(value) < 5:
        return "not an IBAN"
    if not _bitfield(_ISO3166_ALPHA2, (ord(value[0]) - 65) * 26 + ord(value[1]) - 65):
        return "not an IBAN (country)"
    moved = value[4:] + value[:4]
    if int("".join(str(int(c, 36)) for c in moved)) % 97 != 1:
        return "not an IBAN (check digits)"
    return None


def _alpha2(value: str) -> str | None:
    if not re.fullmatch(r"[A-Z]{2}", value):
        return "not an ISO 3166 alpha-2 country code"
    if not _bitfield(_ISO3166_ALPHA2, (ord(value[0]) - 65) * 26 + ord(value[1]) - 65):
        return "not an ISO 3166 alpha-2 country code"
    return None


def _code(words: tuple[int, ...], what: str, also: str | None = None) -> Linter:
    def check(value: str) -> str | None:
        if value == also:
            return None
        if len(value) != 3 or not _digits(value) or not _bitfield(words, int(value)):
            return f"not an {what}"
        return None

    return check


def _hhmi(value: str) -> str | None:
    if not _digits(value) or len(value) != 4 or int(value[:2]) > 23 or int(value[2:]) > 59:
        return "not a time (HHMM)"
    return None


def _packagetype(value: str) -> str | None:
    return None if value in _PACKAGE_TYPES else "not a package type code (UN/ECE Rec. 21)"


_PACKAGE_TYPE_CODES = (
    "1A 1B 1D 1F 1G 1W 200 201 202 203 204 205 206 210 211 212 2C 3A 3H 43 44 4A 4B 4C 4D "
    "4F 4G 4H 5H 5L 5M 6H 6P 7A 7B 8 8A 8B 8C 9 AA AB AC AD AF AG AH AI AJ AL AM AP APE AT "
    "AV B4 BB BC BD BE BF BG BGE BH BI BJ BK BL BM BME BN BO BP BQ BR BRI BS BT BU BV BW BX "
    "BY BZ CA CB CBL CC CCE CD CE CF CG CH CI CJ CK CL CM CN CO CP CQ CR CS CT CU CV CW CX "
    "CY CZ DA DB DC DG DH DI DJ DK DL DM DN DP DPE DR DS DT DU DV DW DX DY E1 E2 E3 EC ED "
    "EE EF EG EH EI EN FB FC FD FE FI FL FO FOB FP FPE FR FT FW FX GB GI GL GR GU GY GZ HA "
    "HB HC HG HN HR IA IB IC ID IE IF IG IH IK IL IN IZ JB JC JG JR JT JY KG KI LAB LE LG "
    "LT LU LV LZ MA MB MC ME MPE MR MS MT MW MX NA NE NF NG NS NT NU NV OA OB OC OD OE OF "
    "OK OPE OT OU P2 PA PAE PB PC PD PE PF PG PH PI PJ PK PL PLP PN PO POP PP PPE PR PT PU "
    "PUE PV PX PY PZ QA QB QC QD QF QG QH QJ QK QL QM QN QP QQ QR QS RB1 RB2 RB3 RCB RD RG "
    "RJ RK RL RO RT RZ S1 SA SB SC SD SE SEC SH SI SK SL SM SO SP SS ST STL SU SV SW SX SY "
    "SZ T1 TB TC TD TE TEV TG THE TI TK TL TN TO TR TRE TS TT TTE TU TV TW TY TZ UC UN UUE "
    "VA VG VI VK VL VN VO VP VQ VR VS VY WA WB WC WD WF WG WH WJ WK WL WM WN WP WQ WR WRP "
    "WS WT WU WV WW WX WY WZ X11 X12 X15 X16 X17 X18 X19 X20 X3 XA XB XC XD XF XG XH XJ XK "
    "YA YB YC YD YF YG YH YJ YK YL YM YN YP YQ YR YS YT YV YW YX YY YZ ZA ZB ZC ZD ZF ZG ZH "
    "ZJ ZK ZL ZM ZN ZP ZQ ZR ZS ZT ZU ZV ZW ZX ZY ZZ "
)
_PACKAGE_TYPES = frozenset(_PACKAGE_TYPE_CODES.split())


def _always(value: str) -> str | None:
    return None


_LINTERS: dict[str, Linter] = {
    "csum": _csum,
    "csumalpha": _csumalpha,
    "gcppos1": _gcp,
    "gcppos2": lambda v: _gcp(v[1:]),
    "yymmd0": lambda v: _date(v, False, True),
    "yymmdd": lambda v: _date(v, False, False),
    "yyyymmd0": lambda v: _date(v, True, True),
    "yyyymmdd": lambda v: _date(v, True, False),
    "hhmi": _hhmi,
    "hh": _number(0, 23, "an hour"),
    "mi": _number(0, 59, "a minute"),
    "ss": _number(0, 59, "a second"),
    "iso3166": _code(_ISO3166, "ISO 3166 country code"),
    "iso3166999": _code(_ISO3166, "ISO 3166 country code (or 999)", "999"),
    "iso3166alpha2": _alpha2,
    "iso4217": _code(_ISO4217, "ISO 4217 currency code"),
    "iso5218": lambda v: None if v in ("0", "1", "2", "9") else "not an ISO 5218 sex code",
    "yesno": lambda v: None if v in ("0", "1") else "not 0 or 1",
    "zero": lambda v: None if v == "0" else "not 0",
    "nonzero": lambda v: None if _digits(v) and int(v) != 0 else "must not be zero",
    "winding": lambda v: None if v in ("0", "1", "9") else "not a winding direction (0, 1, 9)",
    "hyphen": lambda v: None if v and set(v) == {"-"} else "not a hyphen",
    "nozeroprefix": lambda v: "must not start with 0" if v.startswith("0") else None,
    "hasnondigit": lambda v: None if not _digits(v) else "must hold a character not a digit",
    "latitude": _number(0, 1800000000, "a latitude"),
    "longitude": _number(0, 3600000000, "a longitude"),
    "mediatype": lambda v: (
        None if len(v) == 2 and _digits(v) and int(v) in _MEDIA_TYPES else "not a media type"
    ),
    "importeridx": lambda v: (
        None if re.fullmatch(r"[-0-9A-Za-z_]", v) else "not an importer index character"
    ),
    "packagetype": _packagetype,
    "pieceoftotal": _pieceoftotal,
    "posinseqslash": _posinseqslash,
    "pcenc": _pcenc,
    "iban": _iban,
    # coupon codes (North American, AIs 8110 and 8112): the character set and lengths only
    "couponcode": _always,
    "couponposoffer": _always,
}


def _value_problem(spec: _Spec, value: str) -> str | None:
    """What is wrong with `value` for the AI `spec`, or None: GS1's component-by-component
    check (each component consumes its length; optional ones only while data remains)."""
    if not value:
        return "empty value"
    if len(value) > MAX_VALUE:
        return f"too long ({len(value)} characters, at most {MAX_VALUE})"
    pos = 0
    for part in spec.parts:
        left = len(value) - pos
        if left == 0 and part.optional:
            break
        if left < part.least:
            return _length_problem(spec, value)
        piece = value[pos : pos + min(part.most, left)]
        chars, said = _CSETS[part.kind]
        bad = next((c for c in piece if c not in chars), None)
        if bad is not None:
            return f"character {bad!r} not allowed ({said})"
        for name in part.linters:
            check = _LINTERS.get(name)
            problem = check(piece) if check is not None else None
            if problem:
                return problem
        pos += len(piece)
    if pos < len(value):
        return _length_problem(spec, value)
    return None


def _length_problem(spec: _Spec, value: str) -> str:
    least, most = spec.least, spec.most
    if least == most:
        wanted = f"{least}"
    elif any(p.optional for p in spec.parts) or len(spec.parts) > 1:
        wanted = f"{least} to {most}, as " + " ".join(
            ("[" if p.optional else "")
            + p.kind
            + (str(p.most) if p.least == p.most else f"..{p.most}")
            + ("]" if p.optional else "")
            for p in spec.parts
        )
    else:
        wanted = f"{least} to {most}"
    return f"wrong length ({len(value)} characters, {wanted})"


# --- reading ----------------------------------------------------------------------------------

_SYMBOLOGY = re.compile(r"^\][A-Za-z][0-9A-Za-z]")
_GS1_SYMBOLOGIES = {"C1", "e0", "e1", "e2", "d2", "Q3", "J1"}
_EAN = {"E0", "E4"}  # EAN/UPC: a GTIN alone
_PRIMARY_KEYS = (
    "00",
    "01",
    "253",
    "255",
    "401",
    "402",
    "414",
    "417",
    "8003",
    "8004",
    "8006",
    "8010",
    "8013",
    "8017",
    "8018",
)
_URI_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%"
)
_BAD_DOMAIN_CHARS = frozenset("_~?#@!$&'()*+,;=%")


def looks_like_gs1(text: str) -> bool:
    """Whether a scanner sent GS1 rather than a plain serial: a symbology identifier, a GS
    character, a leading "(" + digits + ")", or an http(s) URI whose path holds a primary key
    (`/01/`, `/00/`, `/414/` …). Cheap; `parse` decides whether it is good GS1."""
    if not text:
        return False
    if _SYMBOLOGY.match(text) or GS in text:
        return True
    if re.match(r"^\(\d{2,4}\)", text):
        return True
    lowered = text[:8].lower()
    if lowered.startswith(("http://", "https://")):
        return any(f"/{key}/" in text for key in _PRIMARY_KEYS)
    return False


class _Problems:
    def __init__(self, field: str, text: str) -> None:
        self.field = field
        self.text = text
        self.errors: list[FieldError] = []

    def add(self, message: str, value: object = None) -> None:
        self.errors.append(FieldError(self.field, message, value))

    def raise_if_any(self) -> None:
        if self.errors:
            shown = self.errors[0].message
            more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
            raise ValidationError(f"{self.field}: not valid GS1: {shown}{more}", self.errors)


def parse(text: str, field: str = "code") -> Gs1Data:
    """The AIs of a GS1 element string (FNC1 as GS, with or without a symbology identifier),
    a bracketed string `(01)…(21)…` or a GS1 Digital Link URI — strictly; anything else, or
    anything wrong, raises a ValidationError naming `field` and each problem."""
    problems = _Problems(field, text)
    if not isinstance(text, str) or not text:
        problems.add("empty: expected a GS1 element string, bracketed string or Digital Link")
        problems.raise_if_any()
    if text.startswith("("):
        return _checked(_bracketed(text, problems), "bracketed", problems, path=())
    if text[:8].lower().startswith(("http://", "https://")) or text.startswith(
        ("HTTP://", "HTTPS://")
    ):
        elements, path = _digital_link(text, problems)
        return _checked(elements, "digital_link", problems, path=path)
    data = text
    if text.startswith("]"):
        try:
            symbology = SymbologyIdentifier.extract(text)
        except Exception:  # biip's ParseError: not a symbology identifier it knows
            problems.add(f"unknown symbology identifier {text[:3]!r}")
            problems.raise_if_any()
        code = symbology.value[1:]
        data = text[len(symbology.value) :]
        if code in _EAN:
            return _checked(_ean(data, problems), "element_string", problems, path=())
        if code == "Q1" and data[:8].lower().startswith(("http://", "https://")):
            elements, path = _digital_link(data, problems)
            return _checked(elements, "digital_link", problems, path=path)
        if code not in _GS1_SYMBOLOGIES:
            problems.add(f"symbology {symbology.value} does not carry GS1 data")
            problems.raise_if_any()
    elif GS not in text:
        problems.add(
            "not GS1: expected a symbology identifier (]d2 ]Q3 ]C1 …), GS separators, "
            "a bracketed string (01)… or a Digital Link URI"
        )
        problems.raise_if_any()
    if data.startswith(GS):  # FNC1 in first position, sent as GS
        data = data[1:]
    return _checked(_raw(data, problems), "element_string", problems, path=())


def _ean(data: str, problems: _Problems) -> list[Element]:
    if not _digits(data) or len(data) not in (8, 12, 13):
        problems.add("an EAN/UPC symbol holds a GTIN-8, -12 or -13", data)
        return []
    return [Element("01", data.zfill(14))]


def _raw(data: str, problems: _Problems) -> list[Element]:
    """An element string with GS as FNC1 (the engine's processAIdata)."""
    if not data:
        problems.add("no AIs")
        return []
    elements: list[Element] = []
    pos = 0
    while pos < len(data):
        spec = _ai_at(data, pos)
        if spec is None:
            problems.add(f"unknown AI at position {pos + 1}", data[pos : pos + 4])
            return elements
        start = pos + len(spec.ai)
        if spec.predefined:
            end = start + spec.most
            if end > len(data) or GS in data[start:end]:
                problems.add(_length_problem(spec, data[start:end].split(GS)[0]), spec.ai)
                return elements
        else:
            found = data.find(GS, start)
            end = len(data) if found < 0 else found
        value = data[start:end]
        elements.append(Element(spec.ai, value))
        pos = end
        if pos < len(data) and data[pos] == GS:
            pos += 1  # after a variable-length AI, or a superfluous one after a fixed one
    return elements


def _bracketed(text: str, problems: _Problems) -> list[Element]:
    """`(01)…(10)…`, with `\\(` for a bracket inside a value (the engine's parseAIdata)."""
    elements: list[Element] = []
    pos = 0
    while pos < len(text):
        if text[pos] != "(":
            problems.add(f"expected '(' at position {pos + 1}")
            return elements
        close = text.find(")", pos)
        if close < 0:
            problems.add("AI not closed by ')'")
            return elements
        ai = text[pos + 1 : close]
        if not (2 <= len(ai) <= 4 and _digits(ai)):
            problems.add(f"({ai}) is not an AI (2 to 4 digits)", ai)
            return elements
        value: list[str] = []
        pos = close + 1
        while pos < len(text) and text[pos] != "(":
            if text.startswith("\\(", pos):
                value.append("(")
                pos += 2
            else:
                value.append(text[pos])
                pos += 1
        joined = "".join(value)
        if "^" in joined or GS in joined:
            problems.add(f"({ai}): FNC1 inside a value", joined)
            return elements
        elements.append(Element(ai, joined))
    if not elements:
        problems.add("no AIs")
    return elements


def _unescape(text: str, query: bool) -> str | None:
    """Percent-decoding as the engine does it ("+" a space in a query); None if it holds NUL."""
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c == "%" and i < len(text) - 2:
            pair = text[i + 1 : i + 3]
            if all(ch in "0123456789abcdefABCDEF" for ch in pair):
                byte = int(pair, 16)
                if byte == 0:
                    return None
                out.append(byte)
                i += 3
                continue
        out.extend((" " if query and c == "+" else c).encode())
        i += 1
    return out.decode("utf-8", errors="replace")


def _digital_link(uri: str, problems: _Problems) -> tuple[list[Element], tuple[str, ...]]:
    """A GS1 Digital Link URI (the engine's parseDLuri, default options)."""
    bad = sorted({c for c in uri if c not in _URI_CHARS})
    if bad:
        problems.add("characters not allowed in a URI: " + " ".join(repr(c) for c in bad))
        return [], ()
    for scheme in ("https://", "HTTPS://", "http://", "HTTP://"):
        if uri.startswith(scheme):
            rest = uri[len(scheme) :]
            break
    else:
        problems.add("a Digital Link starts with http:// or https:// (one case throughout)")
        return [], ()
    slash = rest.find("/")
    domain = rest if slash < 0 else rest[:slash]
    if any(c in _BAD_DOMAIN_CHARS for c in domain):
        problems.add("characters not allowed in the domain", domain)
        return [], ()
    if slash < 1:
        problems.add("no domain and path")
        return [], ()
    path = rest[slash:]
    path, _, _fragment = path.partition("#")
    path, _, query = path.partition("?")
    segments = path.split("/")[1:]
    # the path info starts at the rightmost pair "/AI/value" whose AI is a primary key
    start = None
    j = len(segments) - 2
    while j >= 0:
        spec = _spec(segments[j]) if _digits(segments[j]) else None
        if spec is None:
            break
        if spec.dlpkey is not None:
            start = j
            break
        j -= 2
    if start is None:
        problems.add("no GS1 primary key (/01/, /00/, /414/ …) in the path")
        return [], ()
    elements: list[Element] = []
    order: list[str] = []
    for k in range(start, len(segments), 2):
        ai, raw = segments[k], segments[k + 1]
        if not raw:
            problems.add(f"({ai}): empty value in the path")
            return [], ()
        value = _unescape(raw, query=False)
        if value is None:
            problems.add(f"({ai}): the decoded value holds NUL")
            return [], ()
        elements.append(Element(ai, value))
        order.append(ai)
    for param in query.split("&"):
        if not param or "=" not in param:
            continue  # empty parameters and singletons are not AIs
        key, _, raw = param.partition("=")
        if not _digits(key):
            continue  # other parameters are the resolver's business
        spec = _spec(key)
        if spec is None:
            problems.add(f"unknown AI ({key}) in the query", key)
            return [], ()
        if not raw:
            problems.add(f"({key}): empty value in the query")
            return [], ()
        value = _unescape(raw, query=True)
        if value is None:
            problems.add(f"({key}): the decoded value holds NUL")
            return [], ()
        elements.append(Element(key, value))
    if len(elements) > MAX_AIS:
        problems.add(f"more than {MAX_AIS} AIs")
        return [], ()
    _check_path(tuple(order), elements[len(order) :], problems)
    return elements, tuple(order)


def _valid_sequence(sequence: tuple[str, ...]) -> bool:
    spec = _spec(sequence[0])
    if spec is None or spec.dlpkey is None:
        return False
    return any(_subsequence(sequence[1:], alt) for alt in spec.dlpkey)


def _subsequence(items: tuple[str, ...], of: tuple[str, ...]) -> bool:
    it = iter(of)
    return all(any(x == y for y in it) for x in items)


def _check_path(path: tuple[str, ...], attributes: list[Element], problems: _Problems) -> None:
    if not _valid_sequence(path):
        problems.add(
            "key qualifiers not in GS1's order for the primary key: /" + "/…/".join(path) + "/…"
        )
        return
    seen: set[str] = set(path)
    for element in attributes:
        if element.ai in seen:
            problems.add(f"({element.ai}) given twice", element.ai)
            continue
        seen.add(element.ai)
        spec = _spec(element.ai)
        if spec is None or not spec.attribute:
            problems.add(f"({element.ai}) is not a Digital Link data attribute", element.ai)
            continue
        for j in range(1, len(path) + 1):
            if _valid_sequence(path[:j] + (element.ai,) + path[j:]):
                problems.add(
                    f"({element.ai}) is a key qualifier: it belongs in the path", element.ai
                )
                break


def _checked(
    elements: list[Element], form: str, problems: _Problems, path: tuple[str, ...]
) -> Gs1Data:
    problems.raise_if_any()
    if len(elements) > MAX_AIS:
        problems.add(f"more than {MAX_AIS} AIs")
    values: dict[str, str] = {}
    for element in elements:
        spec = _spec(element.ai)
        if spec is None:
            problems.add(f"({element.ai}) is not a GS1 Application Identifier", element.ai)
            continue
        problem = _value_problem(spec, element.value)
        if problem:
            problems.add(f"({element.ai}) {spec.title}: {problem}", element.value)
        if form == "digital_link" and element.ai == "01" and len(element.value) != 14:
            pass  # reported as a wrong length above
        earlier = values.get(element.ai)
        if earlier is not None and earlier != element.value:
            problems.add(f"({element.ai}) given twice with different values", element.value)
        values.setdefault(element.ai, element.value)
    for message in _exclusions(elements):
        problems.add(message)
    problems.raise_if_any()
    unique: list[Element] = []
    for element in elements:
        if element not in unique:
            unique.append(element)
    return Gs1Data(tuple(unique), form)


def _matches(pattern: str, ai: str) -> bool:
    return len(pattern) == len(ai) and all(
        p == "n" or p == a for p, a in zip(pattern, ai, strict=True)
    )


def _exclusions(elements: Iterable[Element]) -> list[str]:
    """AIs GS1 says may not appear together (the dictionary's `ex=`)."""
    ais = list(dict.fromkeys(e.ai for e in elements))
    found: list[tuple[str, str, str]] = []
    for ai in ais:
        spec = _spec(ai)
        if spec is None:
            continue
        for other in ais:
            clash = other != ai and any(_matches(p, other) for p in spec.ex)
            if clash and (other, ai) not in [(b, a) for a, b, _ in found]:
                found.append((ai, other, f"({ai}) and ({other}) may not appear together"))
    return [message for _a, _b, message in found]


def associations(elements: Iterable[Element]) -> list[str]:
    """What GS1's mandatory associations (the dictionary's `req=`) find missing, e.g.
    "(21) SERIAL needs (01) or (03) or (8006)"; empty when all are met."""
    ais = list(dict.fromkeys(e.ai for e in elements))
    missing = []
    for ai in ais:
        spec = _spec(ai)
        if spec is None:
            continue
        for alternatives in spec.req:
            if not any(
                all(any(_matches(p, have) for have in ais) for p in alt.split("+"))
                for alt in alternatives
            ):
                shown = " or ".join("+".join(f"({p})" for p in a.split("+")) for a in alternatives)
                missing.append(f"({ai}) {spec.title} needs {shown}")
    return missing


# --- writing ----------------------------------------------------------------------------------


def gtin14(gtin: str) -> str:
    """A GTIN-8, -12, -13 or -14 as 14 digits (left-padded with 0); the check digit is checked."""
    gtin = gtin.strip()
    if not _digits(gtin) or len(gtin) not in (8, 12, 13, 14):
        raise _invalid("gtin", "a GTIN has 8, 12, 13 or 14 digits", gtin)
    problem = _csum(gtin)
    if problem:
        raise _invalid("gtin", problem, gtin)
    return gtin.zfill(14)


def _invalid(field: str, message: str, value: object) -> ValidationError:
    return ValidationError(f"{field}: {message}", [FieldError(field, message, value)])


def _elements(elements: Iterable[Element], field: str = "elements") -> list[Element]:
    given = list(elements)
    problems = _Problems(field, "")
    if not given:
        problems.add("no AIs")
    _checked(given, "element_string", problems, path=())
    return given


def element_string(elements: Iterable[Element], fnc1: str = GS) -> str:
    """`01095060001343522` + `1ABC123` …: FNC1 (`fnc1`) only after a variable-length AI that is
    not the last."""
    given = _elements(elements)
    out = []
    for i, element in enumerate(given):
        out.append(element.ai + element.value)
        spec = _spec(element.ai)
        if spec is not None and not spec.predefined and i < len(given) - 1:
            out.append(fnc1)
    return "".join(out)


def bracketed(elements: Iterable[Element]) -> str:
    """`(01)09506000134352(21)ABC123` (a "(" inside a value escaped as `\\(`)."""
    return "".join(f"({e.ai}){e.value.replace('(', chr(92) + '(')}" for e in _elements(elements))


def _escape(value: str) -> str:
    return quote(value, safe="-._~")


def digital_link(elements: Iterable[Element], stem: str = DEFAULT_STEM) -> str:
    """The GS1 Digital Link URI: the first primary key and its key qualifiers in the path in
    GS1's order, the other AIs in the query (predefined-length ones first, as GS1's engine
    writes them); values percent-encoded. Refused when an AI can be neither."""
    given = list(dict.fromkeys(_elements(elements)))
    stem = (stem or DEFAULT_STEM).rstrip("/")
    if not re.match(r"^https?://[^/?#]+(/[^?#]*)?$", stem):
        raise _invalid("stem", "a stem is an http(s) URL without query or fragment", stem)
    key = next((e for e in given if (s := _spec(e.ai)) is not None and s.dlpkey is not None), None)
    if key is None:
        raise _invalid("elements", "no GS1 primary key (01, 00, 414 …) to put in the path", None)
    key_spec = _spec(key.ai)
    assert key_spec is not None and key_spec.dlpkey is not None
    qualifiers_anywhere = {q for alt in key_spec.dlpkey for q in alt}
    present = [e for e in given if e.ai in qualifiers_anywhere]
    chosen = next((alt for alt in key_spec.dlpkey if all(e.ai in alt for e in present)), None)
    if chosen is None:
        raise _invalid(
            "elements",
            f"key qualifiers {', '.join('(' + e.ai + ')' for e in present)} cannot all qualify "
            f"({key.ai}) in one Digital Link path",
            None,
        )
    path = [key] + sorted(present, key=lambda e: chosen.index(e.ai))
    rest = [e for e in given if e is not key and e not in present]
    problems = _Problems("elements", "")
    for element in rest:
        spec = _spec(element.ai)
        if spec is None or not spec.attribute:
            problems.add(f"({element.ai}) cannot be a Digital Link data attribute", element.ai)
    problems.raise_if_any()
    rest.sort(key=lambda e: 0 if (s := _spec(e.ai)) is not None and s.predefined else 1)
    uri = stem + "".join(f"/{e.ai}/{_escape(e.value)}" for e in path)
    if rest:
        uri += "?" + "&".join(f"{e.ai}={_escape(e.value)}" for e in rest)
    return uri


_URN_ESCAPES = {'"': "%22", "%": "%25", "&": "%26", "/": "%2F", "<": "%3C", ">": "%3E", "?": "%3F"}


def sgtin_urn(gtin: str, serial: str, company_prefix_length: int) -> str:
    """The SGTIN EPC pure-identity URN (GS1 EPC Tag Data Standard 2.x, §6.3.1):
    `urn:epc:id:sgtin:CompanyPrefix.IndicatorAndItemReference.Serial`, the serial URN-escaped."""
    problems = _Problems("gtin", "")
    try:
        full = gtin14(gtin)
    except ValidationError as exc:
        problems.errors.extend(exc.errors)
        full = ""
    if not isinstance(company_prefix_length, int) or not 6 <= company_prefix_length <= 12:
        problems.errors.append(
            FieldError(
                "company_prefix_length",
                "a GS1 Company Prefix in an SGTIN has 6 to 12 digits",
                company_prefix_length,
            )
        )
    serial_spec = _spec("21")
    assert serial_spec is not None
    problem = _value_problem(serial_spec, serial)
    if problem:
        problems.errors.append(FieldError("serial", f"not a GS1 serial (AI 21): {problem}", serial))
    if problems.errors:
        raise ValidationError(
            f"cannot make an SGTIN: {problems.errors[0].message}", problems.errors
        )
    prefix = full[1 : 1 + company_prefix_length]
    item = full[0] + full[1 + company_prefix_length : 13]
    escaped = "".join(_URN_ESCAPES.get(c, c) for c in serial)
    return f"urn:epc:id:sgtin:{prefix}.{item}.{escaped}"


def unit_elements(
    gtin: str, serial: str, lot: str | None = None, expiry: date | None = None
) -> tuple[Element, ...]:
    """The AIs of one unit in GS1 order — 01, (17), (10), 21 — as labels and identifiers use
    them; checked as `parse` checks them."""
    elements = [Element("01", gtin14(gtin))]
    if expiry is not None:
        elements.append(Element("17", expiry.strftime("%y%m%d")))
    if lot:
        elements.append(Element("10", lot))
    elements.append(Element("21", serial))
    _elements(elements, "unit")
    return tuple(elements)
