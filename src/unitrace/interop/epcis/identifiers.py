"""GS1 identifiers in EPCIS: EPC URNs and GS1 Digital Link URIs of the same thing → one string.

`canonical(uri)` turns an EPC pure-identity URN (sgtin, sscc, sgln, grai, giai, gsrn, gsrnp,
gdti, cpi, sgcn, ginc, gsin, itip, upui, pgln), an EPC class URN (lgtin), an EPC id pattern
(sgtin, grai, gdti, sgcn, cpi, itip, upui `…*`) or a GS1 Digital Link URI on any domain into the
constrained canonical Digital Link on `https://id.gs1.org` that the CBV 2.0 event hash uses
(CBV 2.0 §8.9; the reference implementation's `dl_normaliser`): AIs instead of short names
(`/gtin/` → `/01/`), GTINs as 14 digits, no query string, no CPV (22), only the finest level
(a serial drops the lot), SGLN extension `0` dropped. Anything else comes back unchanged.

Values are percent-encoded as the reference does (`! ( ) * + , :`, and the URN escapes
`" % & / < > ?` kept as `%XX`), so `urn:epc:id:sgtin:…a%2Fb` and `…/21/a%2Fb` agree.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import quote, unquote

from unitrace.core.checkdigits import check_character
from unitrace.core.gs1 import sgtin_urn

__all__ = ["canonical", "sgtin_parts", "to_urn"]

CANONICAL_STEM = "https://id.gs1.org"

# the characters a GS1 AI 82 value may carry, as an EPC URN writes them (TDS §7: %XX escapes)
_C = (
    r"(?:%2[125-9A-Fa-f]|%3[0-9A-Fa-f]|%4[1-9A-Fa-f]|%5[0-9AaFf]|%6[1-9A-Fa-f]|%7[0-9Aa]"
    r"|[!')(*+,.0-9:;=A-Za-z_-])"
)


def _enc(value: str) -> str:
    """A value as the canonical DL writes it: escapes decoded, then every character but
    letters, digits and `- . _ ' ; =` percent-encoded (`%2F`, `%21` …, as the reference)."""
    return quote(unquote(value), safe="-._';=")


def _cd(digits: str) -> str:
    return check_character("gs1", digits)


def _gtin(prefix: str, item: str) -> str:
    raw = item[:1] + prefix + item[1:]
    return raw + _cd(raw)


def _split(prefix: str, rest: str, total: int) -> bool:
    return 6 <= len(prefix) <= 12 and len(prefix) + len(rest) == total


_URN = re.compile(r"^urn:epc:(id|class|idpat):([a-z]+):(.*)$")


def _epc(kind: str, scheme: str, body: str) -> str | None:
    parts = body.split(".")
    s = CANONICAL_STEM
    if kind == "id":
        if scheme in ("sgtin", "upui") and len(parts) >= 3:
            p, i, serial = parts[0], parts[1], ".".join(parts[2:])
            limit = 20 if scheme == "sgtin" else 28
            if (
                _split(p, i, 13)
                and (p + i).isdigit()
                and re.fullmatch(f"{_C}{{1,{limit}}}", serial)
            ):
                ai = "21" if scheme == "sgtin" else "235"
                return f"{s}/01/{_gtin(p, i)}/{ai}/{_enc(serial)}"
        elif scheme == "sscc" and len(parts) == 2:
            p, ref = parts
            if _split(p, ref, 17) and (p + ref).isdigit():
                raw = ref[:1] + p + ref[1:]
                return f"{s}/00/{raw}{_cd(raw)}"
        elif scheme in ("sgln", "grai", "gdti") and len(parts) >= 3:
            p, ref, extra = parts[0], parts[1], ".".join(parts[2:])
            limit = {"sgln": 20, "grai": 16, "gdti": 17}[scheme]
            minimum = 0 if scheme == "gdti" else 1
            if (
                _split(p, ref, 12)
                and (p + ref).isdigit()
                and re.fullmatch(f"{_C}{{{minimum},{limit}}}", extra)
            ):
                if scheme == "sgln":
                    gln = p + ref + _cd(p + ref)
                    return f"{s}/414/{gln}" + ("" if extra == "0" else f"/254/{_enc(extra)}")
                if scheme == "grai":
                    raw = "0" + p + ref
                    return f"{s}/8003/{raw}{_cd(raw)}{_enc(extra)}"
                return f"{s}/253/{p}{ref}{_cd(p + ref)}{_enc(extra)}"
        elif scheme in ("giai", "ginc") and len(parts) >= 2:
            p, ref = parts[0], ".".join(parts[1:])
            if 6 <= len(p) <= 12 and p.isdigit() and re.fullmatch(f"{_C}{{1,{30 - len(p)}}}", ref):
                return f"{s}/{'8004' if scheme == 'giai' else '401'}/{p}{_enc(ref)}"
        elif scheme in ("gsrn", "gsrnp", "gsin") and len(parts) == 2:
            p, ref = parts
            total = 16 if scheme == "gsin" else 17
            if _split(p, ref, total) and (p + ref).isdigit():
                ai = {"gsrn": "8018", "gsrnp": "8017", "gsin": "402"}[scheme]
                return f"{s}/{ai}/{p}{ref}{_cd(p + ref)}"
        elif scheme == "pgln" and len(parts) == 2:
            p, ref = parts
            if _split(p, ref, 12) and (p + ref).isdigit():
                return f"{s}/417/{p}{ref}{_cd(p + ref)}"
        elif scheme == "sgcn" and len(parts) == 3:
            p, ref, serial = parts
            if _split(p, ref, 12) and (p + ref).isdigit() and re.fullmatch(r"\d{1,12}", serial):
                return f"{s}/255/{p}{ref}{_cd(p + ref)}{serial}"
        elif scheme == "cpi" and len(parts) == 3:
            p, ref, serial = parts
            if 6 <= len(p) <= 12 and p.isdigit() and ref and re.fullmatch(r"\d{1,12}", serial):
                return f"{s}/8010/{_enc(p + ref)}/8011/{serial}"
        elif scheme == "itip" and len(parts) >= 5:
            p, i, piece, of, serial = parts[0], parts[1], parts[2], parts[3], ".".join(parts[4:])
            if (
                _split(p, i, 13)
                and (p + i + piece + of).isdigit()
                and len(piece) == len(of) == 2
                and re.fullmatch(f"{_C}{{1,20}}", serial)
            ):
                return f"{s}/8006/{_gtin(p, i)}{piece}{of}/21/{_enc(serial)}"
    elif kind == "class" and scheme == "lgtin" and len(parts) >= 3:
        p, i, lot = parts[0], parts[1], ".".join(parts[2:])
        if _split(p, i, 13) and (p + i).isdigit() and re.fullmatch(f"{_C}{{1,20}}", lot):
            return f"{s}/01/{_gtin(p, i)}/10/{_enc(lot)}"
    elif kind == "idpat" and parts[-1:] == ["*"]:
        fixed = parts[:-1]
        p, ref = fixed[0] if fixed else "", fixed[1] if len(fixed) > 1 else ""
        if scheme == "cpi" and len(fixed) == 2 and 6 <= len(p) <= 12 and p.isdigit() and ref:
            return f"{s}/8010/{_enc(p + ref)}"
        if not fixed or not all(x.isdigit() or x == "" for x in fixed):
            return None
        if scheme in ("sgtin", "upui") and len(fixed) == 2 and _split(p, ref, 13):
            return f"{s}/01/{_gtin(p, ref)}"
        pieces = fixed[2:] if len(fixed) == 4 else []
        if scheme == "itip" and _split(p, ref, 13) and [len(x) for x in pieces] == [2, 2]:
            return f"{s}/8006/{_gtin(p, ref)}{pieces[0]}{pieces[1]}"
        if scheme in ("grai", "gdti", "sgcn") and len(fixed) == 2 and _split(p, ref, 12):
            if scheme == "grai":
                raw = "0" + p + ref
                return f"{s}/8003/{raw}{_cd(raw)}"
            return f"{s}/{'253' if scheme == 'gdti' else '255'}/{p}{ref}{_cd(p + ref)}"
    return None


# GS1 Digital Link: primary keys and key qualifiers, short names → AIs
_SHORT = {
    "gtin": "01",
    "itip": "8006",
    "cpid": "8010",
    "gln": "414",
    "party": "417",
    "gsrnp": "8017",
    "gsrn": "8018",
    "gcn": "255",
    "sscc": "00",
    "gdti": "253",
    "ginc": "401",
    "gsin": "402",
    "grai": "8003",
    "giai": "8004",
    "cpv": "22",
    "lot": "10",
    "ser": "21",
}
_KEYS = (
    "01",
    "8006",
    "8010",
    "414",
    "417",
    "8017",
    "8018",
    "255",
    "00",
    "253",
    "401",
    "402",
    "8003",
    "8004",
)
# a canonical value: AI 82 characters, those outside `- . _ ' ; =` and alphanumerics %-encoded
_V = r"(?:%2[125-9A-CF]|%3[ACEF]|[-'.0-9;=A-Z_a-z])"
_VALID = {
    "00": r"\d{18}",
    "01": rf"\d{{14}}(?:/21/{_V}{{1,20}}|/10/{_V}{{1,20}}|/235/{_V}{{1,28}})?",
    "253": rf"\d{{13}}{_V}{{0,17}}",
    "255": r"\d{13}\d{0,12}",
    "401": rf"{_V}{{1,30}}",
    "402": r"\d{17}",
    "414": rf"\d{{13}}(?:/254/{_V}{{1,20}})?",
    "417": r"\d{13}",
    "8003": rf"\d{{14}}{_V}{{0,16}}",
    "8004": rf"{_V}{{1,30}}",
    "8006": rf"\d{{18}}(?:/21/{_V}{{1,20}}|/10/{_V}{{1,20}})?",
    "8010": r"(?:%23|%2F|[-0-9A-Z]){1,30}(?:/8011/\d{1,12})?",
    "8017": r"\d{18}",
    "8018": r"\d{18}",
}
_DL = re.compile(r"^https?://[^/?#]+(/[^?#]*)(?:\?[^#]*)?(?:#.*)?$")


def _digital_link(uri: str) -> str | None:
    match = _DL.match(uri)
    if match is None:
        return None
    segments = [x for x in match.group(1).split("/") if x != ""]
    names = [_SHORT.get(x, x) for x in segments]
    start = next(
        (
            i
            for i in range(0, len(names) - 1)
            if names[i] in _KEYS and re.match(r"\d{4}", unquote(segments[i + 1]))
        ),
        None,
    )
    if start is None or (len(names) - start) % 2:
        return None
    pairs = [(names[j], _enc(segments[j + 1])) for j in range(start, len(names), 2)]
    key, value = pairs[0]
    qualifiers = dict(pairs[1:])
    if key == "01" and value.isdigit() and len(value) in (8, 12, 13):
        value = value.zfill(14)
    qualifiers.pop("22", None)
    if key in ("01", "8006") and "21" in qualifiers:
        qualifiers.pop("10", None)
    path = f"/{key}/{value}" + "".join(f"/{ai}/{v}" for ai, v in qualifiers.items())
    if re.fullmatch(_VALID[key], path[len(key) + 2 :]) is None:
        return None
    return CANONICAL_STEM + path


@lru_cache(maxsize=8192)
def _normalised(uri: str) -> str | None:
    found = _URN.match(uri)
    if found is not None:
        return _epc(found.group(1), found.group(2), found.group(3))
    if uri.startswith(("http://", "https://")):
        return _digital_link(uri)
    return None


def normalised(uri: str) -> str | None:
    """The canonical Digital Link of a GS1 identifier, or None when `uri` is not one."""
    if not isinstance(uri, str) or len(uri) > 2048:  # no GS1 identifier is that long
        return None
    return _normalised(uri)


def canonical(uri: str) -> str:
    """An EPC URN or a GS1 Digital Link URI (any domain) → the canonical DL on id.gs1.org;
    any other URI unchanged."""
    return normalised(uri) or uri


def sgtin_parts(uri: str) -> tuple[str, str] | None:
    """(GTIN-14, serial) of an SGTIN, written as an EPC URN or a Digital Link; else None."""
    found = normalised(uri)
    if found is None:
        return None
    match = re.fullmatch(r"https://id\.gs1\.org/01/(\d{14})/21/(.+)", found)
    if match is None:
        return None
    return match.group(1), unquote(match.group(2))


def to_urn(uri: str, company_prefix_length: int) -> str | None:
    """The SGTIN EPC URN of an SGTIN (a URN or a Digital Link) given the GS1 Company Prefix
    length (a Digital Link does not carry it); None for anything else."""
    parts = sgtin_parts(uri)
    if parts is None:
        return None
    return sgtin_urn(parts[0], parts[1], company_prefix_length)
