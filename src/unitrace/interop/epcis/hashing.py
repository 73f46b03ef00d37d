"""The CBV 2.0 event hash ID (CBV 2.0 §8.9) of one EPCIS 2.0 event in JSON(-LD).

`prehash(event, context)` is the canonical pre-hash string; `event_hash_id(event, context)` is
`ni:///sha-256;<hex of SHA-256 over its UTF-8>?ver=CBV2.0`. `context` is the document's
`@context` (extension prefixes such as `example:` are expanded with it; an event's own
`@context`, as a single captured event carries, is used too).

The string is built as the reference implementation (RalphTro/epcis-event-hash-generator)
builds it, so hash IDs agree with other EPCIS systems:

1. `eventType=<type>`, then the fields in the standard's order (`_ORDER`): `name=value` for a
   value, `name` followed by its children for a structure; repeated values (EPCs, quantity
   elements, sensor reports …) sorted; empty ones left out.
2. Then everything not in that order (bizTransactionList, sourceList, destinationList, ilmd,
   user extensions …), each as `name[=value]` followed by its children, sorted — except the
   `type` and value of a business transaction, source or destination, which stay in that order.
   `recordTime`, `eventID`, `errorDeclaration` and the event's `type` are not part of it.
3. Values: times (a field named `…time…`, not `…offset…`) to UTC with milliseconds
   (`2020-03-04T10:00:30.000Z`); numbers without leading `+`, leading or trailing zeros
   (`26.0` → `26`); old CBV URNs (`urn:epcglobal:cbv:bizstep:…`) and bare CBV words
   (`departing`) to the web vocabulary (`https://ref.gs1.org/cbv/BizStep-departing`); GS1
   identifiers (EPC URN or Digital Link on any domain) to the canonical Digital Link
   (`identifiers.canonical`); `prefix:name` keys of the document's context to `{uri}name`.

Where the reference is accidental, this one is deliberate (see docs/epcis-hash.md): bare words
are expanded per event (not from the whole document), JSON `true`/`false` are written as the
XML binding writes them, `null` counts as absent, the key order inside a business transaction,
source or destination does not matter (type first), a type-less one is hashed, not skipped,
and an extension key written as a full IRI hashes as its prefixed form does.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from importlib.resources import files
from typing import Any, TypeAlias

from unitrace.core.errors import FieldError, ValidationError
from unitrace.interop.epcis.identifiers import normalised

__all__ = ["event_hash_id", "prehash"]

Node: TypeAlias = "tuple[str, str, list[Node]]"
Order: TypeAlias = "list[tuple[str, Order | None]]"

_METADATA = "time startTime endTime deviceID deviceMetadata rawData dataProcessingMethod bizRules"
_REPORT = (
    "type exception deviceID deviceMetadata rawData dataProcessingMethod time microorganism"
    " chemicalSubstance value component stringValue booleanValue hexBinaryValue uriValue"
    " minValue maxValue meanValue sDev percRank percValue uom coordinateReferenceSystem"
)
_QUANTITY: Order = [("epcClass", None), ("quantity", None), ("uom", None)]
_ORDER: Order = [
    ("eventTime", None),
    ("eventTimeZoneOffset", None),
    ("certificationInfo", None),
    ("parentID", None),
    ("epcList", [("epc", None)]),
    ("inputEPCList", [("epc", None)]),
    ("childEPCs", [("epc", None)]),
    ("quantityList", [("quantityElement", _QUANTITY)]),
    ("childQuantityList", [("quantityElement", _QUANTITY)]),
    ("inputQuantityList", [("quantityElement", _QUANTITY)]),
    ("outputEPCList", [("epc", None)]),
    ("outputQuantityList", [("quantityElement", _QUANTITY)]),
    ("action", None),
    ("transformationID", None),
    ("bizStep", None),
    ("disposition", None),
    ("persistentDisposition", [("set", None), ("unset", None)]),
    ("readPoint", [("id", None)]),
    ("bizLocation", [("id", None)]),
    # bizTransactionList, sourceList, destinationList: the reference lists them here but its
    # order never matches them, so they are hashed with the fields outside the order (step 2)
    (
        "sensorElementList",
        [
            (
                "sensorElement",
                [
                    (
                        "sensorMetadata",
                        [(name, None) for name in _METADATA.split()],
                    ),
                    (
                        "sensorReport",
                        [(name, None) for name in _REPORT.split()],
                    ),
                ],
            )
        ],
    ),
]
_NOT_HASHED = ("recordTime", "eventID", "type", "errorDeclaration")
_NOT_READ = ("#text", "rdfs:comment", "comment", "@context")
_PAIRED = {
    "bizTransactionList": "bizTransaction",
    "sourceList": "source",
    "destinationList": "destination",
}
_VOCABULARIES = ("https://ref.gs1.org/cbv", "https://gs1.org/voc")
_OLD_CBV = (
    ("urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-"),
    ("urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-"),
    ("urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-"),
    ("urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-"),
    ("urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-"),
)


def event_hash_id(event: dict[str, Any], context: Any = None) -> str:
    """`ni:///sha-256;<hex>?ver=CBV2.0` of one event (CBV 2.0 §8.9)."""
    digest = hashlib.sha256(prehash(event, context).encode("utf-8")).hexdigest()
    return f"ni:///sha-256;{digest}?ver=CBV2.0"


def prehash(event: dict[str, Any], context: Any = None) -> str:
    """The canonical pre-hash string of one event; `context` is the document's `@context`."""
    if not isinstance(event, dict):
        raise TypeError("an EPCIS event is a JSON object")
    try:
        prefixes = _prefixes(context)
        prefixes.update(_prefixes(event.get("@context")))
        event = _expand_bare_words(event, prefixes)
        children = _correct(_tree("", event, prefixes))[2]
        ordered = _in_order(children, _ORDER)
        rest = _generic([c for c in children if c[0] not in _NOT_HASHED])
    except RecursionError:
        raise ValidationError(
            "the event is nested too deeply", [FieldError("event", "nested too deeply")]
        ) from None
    return f"eventType={_text(event.get('type'))}{ordered}{rest}"


# --- context: prefixes and the CBV's bare words -------------------------------------------------


def _prefixes(context: Any) -> dict[str, str]:
    """`prefix → namespace URI` of the string-valued terms of a JSON-LD context."""
    found: dict[str, str] = {}
    for part in context if isinstance(context, list) else [context]:
        if isinstance(part, dict):
            found.update({k: v for k, v in part.items() if isinstance(v, str) and ":" in v})
    return found


@lru_cache(maxsize=1)
def _standard_context() -> dict[str, Any]:
    text = files("unitrace.interop.epcis").joinpath("epcis-context.jsonld").read_text("utf-8")
    context: dict[str, Any] = json.loads(text)["@context"]
    return context


Layers: TypeAlias = "tuple[dict[str, Any], ...]"


def _lookup(active: Layers, key: str) -> Any:
    for layer in reversed(active):
        if key in layer:
            return layer[key]
    return None


def _scoped(active: Layers, definition: Any) -> Layers:
    scoped = definition.get("@context") if isinstance(definition, dict) else None
    parts = scoped if isinstance(scoped, list) else [scoped]
    return active + tuple(p for p in parts if isinstance(p, dict))


def _expand_term(value: str, active: Layers) -> str:
    term = _lookup(active, value)
    if isinstance(term, dict):
        term = term.get("@id")
    if isinstance(term, str):
        value = term
    prefix, colon, rest = value.partition(":")
    namespace = _lookup(active, prefix) if colon else None
    if isinstance(namespace, str) and not rest.startswith("//"):
        return namespace + rest
    return value


def _vocabulary_values(node: Any, active: Layers, out: set[str]) -> None:
    """The web-vocabulary IRIs that the `@vocab`-typed fields of `node` expand to (what the
    reference gathers by JSON-LD expansion)."""
    if isinstance(node, list):
        for item in node:
            _vocabulary_values(item, active, out)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        definition = _lookup(active, key)
        if isinstance(definition, dict) and definition.get("@type") == "@vocab":
            inner = _scoped(active, definition)
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str):
                    iri = _expand_term(item, inner)
                    if iri.startswith(_VOCABULARIES):
                        out.add(iri)
        elif isinstance(value, dict | list):
            _vocabulary_values(value, _scoped(active, definition), out)


def _expand_bare_words(event: dict[str, Any], prefixes: dict[str, str]) -> dict[str, Any]:
    """Every string equal to the last word of exactly one of the event's vocabulary IRIs
    (`departing` ~ `…/BizStep-departing`) replaced by that IRI, as the reference does."""
    iris: set[str] = set()
    _vocabulary_values(event, (_standard_context(), prefixes), iris)
    if not iris:
        return event

    def replace(value: Any) -> Any:
        if isinstance(value, str):
            matches = [x for x in iris if x.endswith(("-" + value, "/" + value))]
            return matches[0] if len(matches) == 1 else value
        if isinstance(value, list):
            return [replace(v) for v in value]
        if isinstance(value, dict):
            return {k: replace(v) for k, v in value.items()}
        return value

    expanded: dict[str, Any] = replace(event)
    return expanded


# --- the tree: (name, text, children), as the XML binding would give it ------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _name(key: str, prefixes: dict[str, str]) -> str:
    """`ex:field` → `{namespace}field`; a key written as a full IRI
    (`https://ns.example.com/epcis/field`) the same way, split after its last `/` or `#`."""
    prefix, colon, rest = key.partition(":")
    if colon and prefix in prefixes:
        return "{" + prefixes[prefix] + "}" + rest
    if key.startswith(("http://", "https://")):
        cut = max(key.rfind("/"), key.rfind("#")) + 1
        if cut > key.index("//") + 2 and cut < len(key):
            return "{" + key[:cut] + "}" + key[cut:]
    return key


def _value(value: Any, prefixes: dict[str, str]) -> str:
    text = _text(value)
    prefix, colon, rest = text.partition(":")
    if colon and prefix in prefixes:
        return prefixes[prefix] + rest
    return text


def _tree(name: str, value: Any, prefixes: dict[str, str]) -> Node:
    if isinstance(value, dict):
        children: list[Node] = []
        for key, item in value.items():
            if key in _NOT_READ:
                continue
            if key in _PAIRED and isinstance(item, list):
                children.extend((key, "", [_pair(key, x, prefixes)]) for x in item)
                continue
            name_ = _name(key, prefixes)
            for element in item if isinstance(item, list) else [item]:
                children.append(_tree(name_, element, prefixes))
        children.sort()
        return (name, "", children)
    if isinstance(value, list):
        return (name, "", [_tree("", x, prefixes) for x in value])
    return (name, _value(value, prefixes), [])


def _pair(list_name: str, item: Any, prefixes: dict[str, str]) -> Node:
    """A business transaction, source or destination: its type, then its value."""
    field = _PAIRED[list_name]
    item = item if isinstance(item, dict) else {field: item}
    parts: list[Node] = []
    if item.get("type") is not None:
        parts.append(("type", _value(item["type"], prefixes), []))
    if item.get(field) is not None:
        parts.append((field, _value(item[field], prefixes), []))
    return ("", "", parts)


def _correct(node: Node) -> Node:
    """JSON → XML model: `fooList: [a, b]` → `fooList(foo a, foo b)`, `childEPCs` grouped,
    `inputEPC`/`outputEPC` → `epc`, quantity elements named `quantityElement`."""
    name, text, children = node
    lists: dict[str, list[Node]] = {}
    rest: list[Node] = []
    for child in children:
        if child[0] in _PAIRED:
            lists.setdefault(child[0], []).extend(child[2])
        elif child[0].endswith("List"):
            lists.setdefault(child[0], []).append((child[0][:-4], child[1], child[2]))
        else:
            rest.append(child)
    rest.extend((list_name, "", elements) for list_name, elements in lists.items())
    epcs: list[Node] = [("epc", c[1], []) for c in rest if c[0] == "childEPCs"]
    if epcs:
        rest = [c for c in rest if c[0] != "childEPCs"] + [("childEPCs", "", epcs)]
    corrected = [c if c[0] in _PAIRED else _correct(c) for c in rest]
    if name in ("inputEPC", "outputEPC"):
        name = "epc"
    elif name in ("inputQuantity", "outputQuantity", "childQuantity") or (
        name == "quantity" and corrected
    ):
        name = "quantityElement"
    return (name, text, corrected)


# --- the string --------------------------------------------------------------------------------


def _in_order(children: list[Node], order: Order) -> str:
    """The children named in `order`, in that order (each name's values sorted); what is used
    is taken out of `children`, so what is left is hashed by `_generic`."""
    out = ""
    extensions = _user_extensions(children)
    for name, sub_order in order:
        values: list[str] = []
        for child in [c for c in children if c[0] == name]:
            text = _ordered_child(child, sub_order)
            if text:
                values.append(text)
            if not child[2]:
                children.remove(child)
        values.sort()
        out += "".join(values)
    if extensions:
        out += _generic(extensions)
    return out


def _user_extensions(children: list[Node]) -> list[Node]:
    """Inside a structure (not at the top): its `{namespace/}name` fields, taken out of it."""
    if len(children) <= 1 or any("eventTime" in c[0] or "action" in c[0] for c in children):
        return []
    found = [c for c in children if "{" in c[0] and "/}" in c[0]]
    for child in found:
        children.remove(child)
    return found


def _ordered_child(child: Node, sub_order: Order | None) -> str:
    name, text, grandchildren = child
    inner = _in_order(grandchildren, sub_order) if sub_order else ""
    text = text.strip()
    if text:
        lowered = name.lower()
        text = _time(text) if "time" in lowered and "offset" not in lowered else _canonical(text)
        if text:
            text = "=" + text
    return name + text + inner if text or inner else ""


def _generic(children: list[Node]) -> str:
    values = []
    for name, text, grandchildren in children:
        text = text.strip()
        values.append(name + ("=" + _canonical(text) if text else "") + _generic(grandchildren))
    if len(children) > 1 and not any(c[0] in _PAIRED.values() for c in children):
        values.sort()
    return "".join(values)


# --- values ------------------------------------------------------------------------------------


def _time(text: str) -> str:
    """An xsd:dateTime in UTC with milliseconds (rounded as the reference rounds: half to even
    on the microseconds); text that is not one stays as it is."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    micro = moment.microsecond
    try:
        moment = moment.replace(microsecond=0) + timedelta(microseconds=round(micro, -3))
        moment = moment.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 pushed out of range: kept as written
        return text
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:"
        f"{moment.minute:02d}:{moment.second:02d}.{moment.microsecond // 1000:03d}Z"
    )


def _number(text: str) -> str:
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number):
        return text
    return str(int(number)) if number == int(number) else str(number)


def _canonical(text: str) -> str:
    for old, new in _OLD_CBV:
        text = text.replace(old, new)
    text = _number(text)
    return normalised(text) or text
