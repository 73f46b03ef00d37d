"""Serial rule templates: a small language for making and checking serial numbers.

A template is literal text with tokens in braces, for example ``SN{yy}{mm}-{seq:6}{check:luhn}``.

==================  ==================================================================
token               meaning
==================  ==================================================================
``{yyyy}`` ``{yy}``   year of the production date (4 or 2 digits)
``{mm}`` ``{dd}``     month, day of month (2 digits)
``{ww}`` ``{jjj}``    ISO week (2 digits), day of year (3 digits)
``{product}``       the product code
``{plant}``         plant code given at generation (1-8 of A-Z, 0-9)
``{line}``          production line code given at generation (1-8 of A-Z, 0-9)
``{seq:N}``         sequence, zero-padded to N digits (1-12), never reset;
                    ``{seq:N:yearly}``, ``{seq:N:monthly}``, ``{seq:N:daily}`` reset it
``{random:N}``      N random characters (4-26) of Crockford base32, for unguessable serials
``{check:ALG}``     check character, last token only: ``luhn``, ``gs1`` or ``mod37-36``
==================  ==================================================================

Literal text may use letters, digits and ``- _ . /``. A template needs exactly one ``{seq}`` or
at least one ``{random}`` block, so that it can make more than one serial.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from unitrace.core.checkdigits import (
    ALGORITHMS,
    check_character,
    has_valid_check,
    sequence_check_characters,
)
from unitrace.core.errors import FieldError, ValidationError

CROCKFORD32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RESETS = ("never", "yearly", "monthly", "daily")
MAX_SERIAL_LENGTH = 64
_LITERAL_OK = re.compile(r"[A-Za-z0-9\-_./]+")
_CODE_OK = re.compile(r"[A-Z0-9]{1,8}")
_TOKEN = re.compile(r"\{([^{}]*)\}")
_DATE_TOKENS = {"yyyy": 4, "yy": 2, "mm": 2, "dd": 2, "ww": 2, "jjj": 3}


@dataclass(frozen=True)
class Token:
    kind: str  # literal, date, product, plant, line, seq, random, check
    text: str = ""  # the literal text, or the date part name, or the check algorithm
    width: int = 0
    reset: str = "never"

    @property
    def source(self) -> str:
        if self.kind == "literal":
            return self.text
        if self.kind == "date":
            return "{" + self.text + "}"
        if self.kind == "seq":
            return "{seq:%d%s}" % (self.width, "" if self.reset == "never" else ":" + self.reset)
        if self.kind == "random":
            return "{random:%d}" % self.width
        if self.kind == "check":
            return "{check:%s}" % self.text
        return "{" + self.kind + "}"


@dataclass(frozen=True)
class GenerationContext:
    """What a template needs besides the sequence: the date and the codes it names."""

    day: date
    product_code: str = ""
    plant: str = ""
    line: str = ""


def _fail(template: str, token: str, message: str) -> ValidationError:
    return ValidationError(
        f"serial template {template!r}: {token}: {message}",
        [FieldError("template", f"{token}: {message}", template)],
    )


def _parse_token(template: str, body: str) -> Token:
    raw = "{" + body + "}"
    name, _, rest = body.partition(":")
    name = name.strip()
    args = rest.split(":") if rest else []
    if name in _DATE_TOKENS and not args:
        return Token("date", name, _DATE_TOKENS[name])
    if name in ("product", "plant", "line") and not args:
        return Token(name)
    if name == "seq":
        if not 1 <= len(args) <= 2 or not args[0].isdigit() or not 1 <= int(args[0]) <= 12:
            raise _fail(template, raw, "write {seq:N} with N from 1 to 12, optionally :yearly")
        reset = args[1] if len(args) == 2 else "never"
        if reset not in RESETS:
            raise _fail(template, raw, f"reset must be one of {', '.join(RESETS)}")
        return Token("seq", width=int(args[0]), reset=reset)
    if name == "random":
        if len(args) != 1 or not args[0].isdigit() or not 4 <= int(args[0]) <= 26:
            raise _fail(template, raw, "write {random:N} with N from 4 to 26")
        return Token("random", width=int(args[0]))
    if name == "check":
        if len(args) != 1 or args[0] not in ALGORITHMS:
            raise _fail(template, raw, f"check algorithm must be one of {', '.join(ALGORITHMS)}")
        return Token("check", args[0], 1)
    raise _fail(template, raw, "unknown token")


def parse_template(template: str) -> tuple[Token, ...]:
    """Split a template into tokens, or raise ValidationError naming the offending token."""
    if not isinstance(template, str) or not template.strip():
        raise ValidationError(
            "serial template is empty", [FieldError("template", "must not be empty")]
        )
    tokens: list[Token] = []
    pos = 0
    for match in _TOKEN.finditer(template):
        if match.start() > pos:
            tokens.append(_literal(template, template[pos : match.start()]))
        tokens.append(_parse_token(template, match.group(1)))
        pos = match.end()
    if pos < len(template):
        tokens.append(_literal(template, template[pos:]))
    kinds = [t.kind for t in tokens]
    if kinds.count("seq") > 1:
        raise _fail(template, "{seq}", "only one sequence per template")
    if "seq" not in kinds and "random" not in kinds:
        raise _fail(template, "template", "needs a {seq:N} or {random:N} token to be unique")
    for index, token in enumerate(tokens):
        if token.kind == "check" and index != len(tokens) - 1:
            raise _fail(template, token.source, "the check character must be the last token")
    return tuple(tokens)


def _literal(template: str, text: str) -> Token:
    if "{" in text or "}" in text:
        raise _fail(template, text, "unbalanced brace")
    if not _LITERAL_OK.fullmatch(text):
        raise _fail(template, repr(text), "literal text may use letters, digits and - _ . / only")
    return Token("literal", text)


class RangeProblem(ValueError):
    """Why two serials do not make a range of a serial rule: a sentence that does not change
    (to be translated), and the value it is about (the caller names the field)."""

    def __init__(self, message: str, value: str) -> None:
        super().__init__(message)
        self.message, self.value = message, value


@dataclass(frozen=True)
class SerialTemplate:
    """A parsed template; renders serials in bulk and checks serials made elsewhere."""

    source: str
    tokens: tuple[Token, ...]

    @classmethod
    def parse(cls, template: str) -> SerialTemplate:
        return cls(template, parse_template(template))

    @property
    def seq_token(self) -> Token | None:
        return next((t for t in self.tokens if t.kind == "seq"), None)

    @property
    def reset(self) -> str:
        seq = self.seq_token
        return seq.reset if seq else "never"

    @property
    def needs(self) -> frozenset[str]:
        """Codes the caller must provide: a subset of {'plant', 'line'}."""
        return frozenset(t.kind for t in self.tokens if t.kind in ("plant", "line"))

    def period_key(self, day: date) -> str:
        """The key of the sequence counter: a new period restarts the sequence at 1."""
        return {
            "never": "",
            "yearly": f"{day:%Y}",
            "monthly": f"{day:%Y%m}",
            "daily": f"{day:%Y%m%d}",
        }[self.reset]

    def capacity(self) -> int | None:
        """How many sequence values fit the padded width (None when there is no sequence)."""
        seq = self.seq_token
        return 10**seq.width - 1 if seq else None

    def _fixed(self, token: Token, ctx: GenerationContext) -> str:
        if token.kind == "literal":
            return token.text
        if token.kind == "date":
            iso = ctx.day.isocalendar()
            return {
                "yyyy": f"{ctx.day:%Y}",
                "yy": f"{ctx.day:%y}",
                "mm": f"{ctx.day:%m}",
                "dd": f"{ctx.day:%d}",
                "ww": f"{iso.week:02d}",
                "jjj": f"{ctx.day.timetuple().tm_yday:03d}",
            }[token.text]
        if token.kind == "product":
            return ctx.product_code
        if token.kind in ("plant", "line"):
            value = ctx.plant if token.kind == "plant" else ctx.line
            if not _CODE_OK.fullmatch(value or ""):
                raise ValidationError(
                    f"{token.kind}: the serial rule needs a {token.kind} code of 1-8 A-Z/0-9",
                    [FieldError(token.kind, "required by the serial rule: 1-8 of A-Z, 0-9", value)],
                )
            return value
        raise AssertionError(token.kind)

    def render(self, ctx: GenerationContext, first_seq: int, count: int) -> list[str]:
        """`count` serials for sequence values first_seq … first_seq+count-1 (set-based)."""
        seq = self.seq_token
        if seq is not None and first_seq + count - 1 > 10**seq.width - 1:
            raise ValidationError(
                f"sequence exhausted: {seq.source} holds at most {10**seq.width - 1:,} values",
                [FieldError("count", "the serial rule's sequence would overflow", count)],
            )
        # Build one %-format string for everything that does not change within the batch.
        pieces: list[str] = []
        randoms: list[int] = []
        check: str | None = None
        for token in self.tokens:
            if token.kind == "seq":
                pieces.append("%%0%dd" % token.width)
            elif token.kind == "random":
                pieces.append("%s")
                randoms.append(token.width)
            elif token.kind == "check":
                check = token.text
            else:
                pieces.append(self._fixed(token, ctx).replace("%", "%%"))
        fmt = "".join(pieces)
        serials = list(self._fill(fmt, seq is not None, randoms, first_seq, count))
        if check is not None:
            fast = None
            if seq is not None and not randoms:
                before, _, after = fmt.partition("%%0%dd" % seq.width)
                fast = sequence_check_characters(
                    check,
                    before.replace("%%", "%"),
                    seq.width,
                    first_seq,
                    count,
                    after.replace("%%", "%"),
                )
            if fast is not None:
                serials = [s + c for s, c in zip(serials, fast, strict=True)]
            else:
                serials = [s + check_character(check, s) for s in serials]
        too_long = next((s for s in serials[:1] if len(s) > MAX_SERIAL_LENGTH), None)
        if too_long:
            raise ValidationError(
                f"serial template makes serials longer than {MAX_SERIAL_LENGTH} characters",
                [FieldError("template", "serials too long", too_long)],
            )
        return serials

    @staticmethod
    def _fill(
        fmt: str, has_seq: bool, randoms: Sequence[int], first_seq: int, count: int
    ) -> Iterator[str]:
        if not randoms:
            for value in range(first_seq, first_seq + count):
                yield fmt % value
            return
        for value in range(first_seq, first_seq + count):
            blocks = tuple(random_block(width) for width in randoms)
            yield fmt % (((value,) + blocks) if has_seq else blocks)

    def pattern(self, product_code: str | None = None, split: bool = False) -> re.Pattern[str]:
        """A regular expression that every serial this template makes matches. `split`: with
        the groups `before`, `seq` and `after` (the text around the sequence, the check
        character left out), for templates that have a sequence."""
        parts: list[str] = []
        for token in self.tokens:
            if split and token.kind == "seq":
                parts = ["(?P<before>" + "".join(parts) + ")", r"(?P<seq>\d{%d})" % token.width]
                parts.append("(?P<after>")
                continue
            if split and token.kind == "check":
                parts.append(")")
                split = False
            if token.kind == "literal":
                parts.append(re.escape(token.text))
            elif token.kind == "date":
                parts.append(
                    {
                        "yyyy": r"\d{4}",
                        "yy": r"\d{2}",
                        "mm": r"(?:0[1-9]|1[0-2])",
                        "dd": r"(?:0[1-9]|[12]\d|3[01])",
                        "ww": r"(?:0[1-9]|[1-4]\d|5[0-3])",
                        "jjj": r"(?:00[1-9]|0[1-9]\d|[12]\d\d|3[0-5]\d|36[0-6])",
                    }[token.text]
                )
            elif token.kind == "product":
                parts.append(re.escape(product_code) if product_code else r"[A-Za-z0-9\-_.]+")
            elif token.kind in ("plant", "line"):
                parts.append(r"[A-Z0-9]{1,8}")
            elif token.kind == "seq":
                parts.append(r"\d{%d}" % token.width)
            elif token.kind == "random":
                parts.append("[%s]{%d}" % (CROCKFORD32, token.width))
            elif token.kind == "check":
                parts.append(r"\d" if token.text in ("luhn", "gs1") else "[0-9A-Z]")
        if split and self.seq_token is not None:
            parts.append(")")
        return re.compile("".join(parts))

    def range_serials(
        self, first: str, last: str, product_code: str | None = None, most: int = 100_000
    ) -> list[str]:
        """The serials of this rule from `first` to `last`, both included: the sequence steps
        from the one of `first` to the one of `last`, each with its check character, so that
        `SN000103`–`SN000202` (Luhn) gives the 10 serials of sequences 10 … 19, not the 100
        strings between. RangeProblem when an end is not a serial of this rule, the ends
        differ outside the sequence (a date, a plant), or the rule has random characters."""
        seq = self.seq_token
        if seq is None or any(t.kind == "random" for t in self.tokens):
            raise RangeProblem(
                "the product's serial rule has random characters: a range cannot step "
                "through them, list the serials one a line",
                self.source,
            )
        shape = self.pattern(product_code, split=True)
        ends = []
        for end in (first, last):
            why = self.mismatch(end, product_code)
            found = shape.fullmatch(end)
            if why is not None or found is None:
                wrong = why is not None and why.startswith("wrong check")
                raise RangeProblem(
                    "an end of the range has a wrong check character"
                    if wrong
                    else "an end of the range is not a serial of the product's serial rule",
                    end,
                )
            ends.append(found)
        low, high = ends
        if (low["before"], low["after"]) != (high["before"], high["after"]):
            raise RangeProblem(
                "the two ends of a range differ outside the sequence number of the "
                "product's serial rule",
                f"{first}–{last}",
            )
        start, stop = int(low["seq"]), int(high["seq"])
        if stop < start:
            raise RangeProblem("the range ends before it starts", f"{first}–{last}")
        count = stop - start + 1
        if count > most:
            raise RangeProblem(f"at most {most:,} serials a range", f"{first}–{last}")
        before, after = low["before"], low["after"]
        serials = [f"{before}{n:0{seq.width}d}{after}" for n in range(start, stop + 1)]
        check = self.tokens[-1]
        if check.kind != "check":
            return serials
        fast = sequence_check_characters(check.text, before, seq.width, start, count, after)
        if fast is None:
            return [s + check_character(check.text, s) for s in serials]
        return [s + c for s, c in zip(serials, fast, strict=True)]

    def mismatch(self, serial: str, product_code: str | None = None) -> str | None:
        """Why `serial` could not have come from this template, or None if it could."""
        if not self.pattern(product_code).fullmatch(serial):
            return f"does not match the serial rule {self.source}"
        last = self.tokens[-1]
        if last.kind == "check" and not has_valid_check(last.text, serial):
            return f"wrong check character ({last.text})"
        return None


def random_block(width: int) -> str:
    return "".join(secrets.choice(CROCKFORD32) for _ in range(width))


_SERIAL_OK = re.compile(r"[\x21-\x7e\u00a0-\uffff]+")


def plain_serial_problem(serial: object) -> str | None:
    """Why `serial` cannot be a serial at all (any product), or None."""
    if not isinstance(serial, str):
        return "must be a string"
    if not serial:
        return "must not be empty"
    if len(serial) > MAX_SERIAL_LENGTH:
        return f"longer than {MAX_SERIAL_LENGTH} characters"
    if not _SERIAL_OK.fullmatch(serial) or any(
        unicodedata.category(ch)[0] in "ZC" for ch in serial
    ):
        return "contains spaces, invisible or control characters"
    if unicodedata.normalize("NFKC", serial) != serial:
        return "uses full-width, compatibility or decomposed characters (write it in NFKC form)"
    return None
