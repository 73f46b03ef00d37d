"""Every message a use case can raise has a Simplified Chinese translation (web/translate.py).

The sources are read, not run: every call that builds an error (`…Error(…)`, `FieldError`,
`invalid`, `report`, `not_found`, `named_twice`, `Problems.error`, `ValueError` of a validator)
is found, and its message argument followed back to the text it holds — a literal, an
f-string (its template: `{expression}` for each value), a variable assigned one in the same
function, a function returning one, a dictionary of them. A message that cannot be followed
back fails the test unless `FOLLOWED_ELSEWHERE` says where its texts are found, so a new
English message cannot reach a Chinese page unnoticed."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

import unitrace
from unitrace.core.lifecycle import EVENT_TYPES, Status
from unitrace.web import i18n, translate

SRC = Path(unitrace.__file__).parent
# what no page shows: the command line, start-up settings, the demo loader, programming errors
NOT_SHOWN = ("cli/", "config.py", "demo.py", "db/tables.py", "db/bulk.py", "api/app.py")
# calls that build an error → the position of their message (`kind`: an error class passed in)
BUILDERS = {
    "invalid": 1,
    "FieldError": 1,
    "named_twice": None,
    "ValueError": 0,
    "error": 0,
    "kind": 0,
    "Check": 2,  # aftersales/claims.py: a claim check's reason, shown on the service desk
}
NOT_MESSAGES = {"RuntimeError", "TypeError", "IntegrityError", "LimitExceeded", "KeyError"}
# where a message comes from further away than this test follows, and where its texts are found
FOLLOWED_ELSEWHERE = {
    "api/problems.py:str(error.get('msg', 'invalid')).removeprefix('Value error, ')": "Pydantic's"
    " message: pages translate it by its type (web/common.py _pydantic_message), validators'"
    " ValueError texts are found where they are raised",
    "channel/sellthrough.py:str(item['msg']).removeprefix('Value error, ')": "the same",
    "ledger/limits.py:MESSAGES[what] % {'count': f'{count:,}', 'limit': f'{limit:,}'}": "DICTS",
    "tabular.py:MESSAGES[limit] % {'n': shown, 'setting': self.setting}": "DICTS",
    "ledger/queries.py:unknown_serial(serial, product)": "ledger/write.py: core/errors.py"
    " unknown_unit under another name, found where write.py calls it",
    # _sold_at returns the time or the problem; its problems are literals, found there
    "channel/sellthrough.py:now": "a time",
    "channel/sellthrough.py:cell": "a time",
    "channel/sellthrough.py:value": "a time",
    "channel/sellthrough.py:value.astimezone()": "a time",
    "channel/sellthrough.py:datetime.combine(cell, time())": "a time",
    "channel/sellthrough.py:datetime.fromisoformat(_text(cell))": "a time",
    "channel/sellthrough.py:datetime.now().astimezone()": "a time",
    "channel/sellthrough.py:item.message": "a FieldError's message, found where it is built",
    "channel/service.py:str(error)": "Status.from_label's ValueError, found there",
    "ledger/queries.py:str(exc)": "Status.from_label's ValueError, found there",
    "api/limits.py:MISSING_TOKEN": "imported from api/deps.py, found there",
    "core/serials.py:token.kind": "a serial rule's token kind is a code (lot, plant, line)",
    "ledger/pipeline.py:message": "core/lifecycle.py field_problems: FUNCTIONS",
    "production/rules.py:u.id": "not a message: the value of the field error",
    "aftersales/claims.py:c.reason": "a claim check's reason: found where each `Check` is built",
    "interop/epcis/capture.py:_NUMBERED.sub('', error.detail)": "a ledger refusal's detail (its"
    " `event N: ` taken off), found where the ledger raises it",
}
FUNCTIONS = {("core/lifecycle.py", "field_problems")}  # messages in (field, message) pairs
# variables whose text a message holds as a value (`{more}`): (module, function, variable)
VALUES = {("channel/sellthrough.py", "_problems", "more")}
DICTS = {
    ("ledger/limits.py", "MESSAGES"),
    ("tabular.py", "MESSAGES"),
    ("core/lifecycle.py", "_NOT_TAKEN"),
}


def _rel(path: Path) -> str:
    return path.relative_to(SRC).as_posix()


@cache
def _trees() -> dict[str, ast.Module]:
    return {
        _rel(p): ast.parse(p.read_text("utf-8"))
        for p in sorted(SRC.rglob("*.py"))
        if not _rel(p).startswith(NOT_SHOWN)
    }


def template(node: ast.AST) -> str | None:
    """A literal's text, an f-string's template (`{expression}` for each value), else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        out = []
        for part in node.values:
            if isinstance(part, ast.Constant):
                out.append(str(part.value))
            elif isinstance(part, ast.FormattedValue):
                out.append("{" + ast.unparse(part.value) + "}")
        return "".join(out)
    return None


def _joined(node: ast.AST) -> list[str] | None:
    """The templates a string expression can give: a literal or an f-string, a choice of them
    (`a if c else b`), their sum; a variable in a sum is a placeholder (`{detail}`)."""
    own = template(node)
    if own is not None:
        return [own]
    if isinstance(node, ast.IfExp):
        body, orelse = _joined(node.body), _joined(node.orelse)
        return None if body is None or orelse is None else body + orelse
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _joined(node.left), _joined(node.right)
        if left is None and isinstance(node.left, ast.Name):
            left = ["{" + node.left.id + "}"]
        if left is None or right is None:
            return None
        return [a + b for a in left for b in right]
    return None


def _parameter(fn: ast.AST | None, name: str) -> int | None:
    if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
        return None
    names = [a.arg for a in [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]]
    return names.index(name) if name in names else None


def _calls(
    node: ast.AST, fn: ast.AST | None = None, kind: type[Any] = ast.Call
) -> Iterator[tuple[Any, ast.AST | None]]:
    """Every call (or other `kind` of node) under `node` with the function it is in (None:
    the module's top level)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, kind):
            yield child, fn
        inner = child if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else fn
        yield from _calls(child, inner, kind)


def _caught(fn: ast.AST | None, node: ast.expr) -> bool:
    """`str(error)`, `error.message`, `error.detail` of an `except … as error` in `fn`."""
    if isinstance(node, ast.Call) and _name(node.func) == "str" and len(node.args) == 1:
        node = node.args[0]
    elif isinstance(node, ast.Attribute) and node.attr in ("message", "detail"):
        node = node.value
    if not isinstance(node, ast.Name) or fn is None:
        return False
    return any(
        isinstance(handler, ast.ExceptHandler) and handler.name == node.id
        for handler in ast.walk(fn)
    )


@cache
def _exceptions() -> frozenset[str]:
    """The exception classes the sources define (`class NotADate(ValueError)`): a message is
    their first argument."""
    found = {"Exception", "ValueError"}
    classes = [
        n for tree in _trees().values() for n in ast.walk(tree) if isinstance(n, ast.ClassDef)
    ]
    while True:
        more = {c.name for c in classes if any(_name(b) in found or _name(b).endswith("Error")
                                                for b in c.bases)} - found  # fmt: skip
        if not more:
            return frozenset(found - {"Exception"})
        found |= more


def _functions() -> dict[str, list[tuple[str, ast.FunctionDef]]]:
    found: dict[str, list[tuple[str, ast.FunctionDef]]] = {}
    for module, tree in _trees().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                found.setdefault(node.name, []).append((module, node))
    return found


def _strings(node: ast.AST) -> Iterator[str]:
    """Every literal and f-string inside `node` but docstrings (not inside f-strings' parts)."""
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return
    own = template(node)
    if own is not None:
        yield own
        return
    for child in ast.iter_child_nodes(node):
        yield from _strings(child)


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


class _Walk:
    def __init__(self) -> None:
        self.found: dict[str, str] = {}
        self.unfollowed: set[str] = set()
        self.fields: set[str] = set()  # the names of fields errors are about
        self.functions = _functions()

    def add(self, text: str, where: str) -> None:
        if text.strip():
            self.found.setdefault(text, where)

    def follow(self, module: str, fn: ast.AST | None, node: ast.expr, depth: int = 0) -> None:
        where = f"{module}:{getattr(node, 'lineno', 0)}"
        joined = _joined(node)
        if joined is not None:
            for text in joined:
                if not translate.PLACEHOLDER.fullmatch(text):
                    self.add(text, where)
        elif isinstance(node, ast.Constant) and not isinstance(node.value, str):
            return  # None, a status code
        elif _caught(fn, node):
            return  # an exception's text: found where it is raised (`raise NotADate(f"…")`)
        elif isinstance(node, ast.Attribute) and node.attr == "message":
            return  # a FieldError's message: found where it is built
        elif isinstance(node, ast.IfExp):
            self.follow(module, fn, node.body, depth)
            self.follow(module, fn, node.orelse, depth)
        elif isinstance(node, ast.Call) and _name(node.func) == "_":
            return  # a page's text: tests/unit/test_catalogs.py
        elif isinstance(node, ast.Call) and self._no_text(node):
            return  # `parse_when(cell)` returns a datetime: no text to follow
        elif isinstance(node, ast.Call) and depth < 3 and self._returns(node, depth):
            return
        elif isinstance(node, ast.Name) and _parameter(fn, node.id) is not None:
            self._callers(fn, node.id, depth)
        elif isinstance(node, ast.Name) and depth < 3:
            scopes = [fn] if fn is not None else []
            if not any(self._assigned(module, s, node, depth) for s in [*scopes, _trees()[module]]):
                self.unfollowed.add(f"{module}:{ast.unparse(node)}")
        else:
            self.unfollowed.add(f"{module}:{ast.unparse(node)}")

    def _no_text(self, call: ast.Call) -> bool:
        """The called function says it returns no text (`-> datetime`)."""
        defs = self.functions.get(_name(call.func), [])
        return bool(defs) and all(
            fn.returns is not None and "str" not in ast.unparse(fn.returns) for _m, fn in defs
        )

    def _returns(self, call: ast.Call, depth: int) -> bool:
        """Follows the texts the called function returns."""
        defs = self.functions.get(_name(call.func), [])
        texts = [
            (m, fn) for m, fn in defs if fn.returns is None or "str" in ast.unparse(fn.returns)
        ]
        for module, fn in texts:
            for node in ast.walk(fn):
                if isinstance(node, ast.Return) and node.value is not None:
                    self.follow(module, fn, node.value, depth + 1)
        return bool(defs)

    def _callers(self, fn: ast.AST | None, name: str, depth: int) -> None:
        """A parameter of a builder is followed where builders are called; of another function
        (`retried(db, work, message)`), in the calls of that function."""
        assert isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
        if fn.name in BUILDERS or fn.name in ("report", "not_found", "__init__") or depth >= 3:
            return
        position = _parameter(fn, name)
        for module, tree in _trees().items():
            for call, caller in _calls(tree):
                if _name(call.func) != fn.name:
                    continue
                shift = 1 if position and fn.args.args[0].arg in ("self", "cls") else 0
                given = [k.value for k in call.keywords if k.arg == name]
                if position is not None and len(call.args) > position - shift:
                    given.append(call.args[position - shift])
                for arg in given:
                    self.follow(module, caller, arg, depth + 1)

    def _assigned(self, module: str, scope: ast.AST, name: ast.Name, depth: int) -> bool:
        """Follows what `name` is assigned in `scope` (a function, or a module's top level)."""
        nodes = scope.body if isinstance(scope, ast.Module) else list(ast.walk(scope))
        values = [
            node.value
            for node in nodes
            if isinstance(node, ast.Assign | ast.AnnAssign)
            and node.value is not None
            and any(
                isinstance(t, ast.Name) and t.id == name.id
                for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
            )
        ]
        function = None if isinstance(scope, ast.Module) else scope
        for value in values:
            self.follow(module, function, value, depth + 1)
        for node in nodes:  # `detail += f" ({n} problems in all)"`
            if (
                isinstance(node, ast.AugAssign)
                and isinstance(node.op, ast.Add)
                and isinstance(node.target, ast.Name)
                and node.target.id == name.id
            ):
                for text in _joined(node.value) or []:
                    self.add("{" + name.id + "}" + text, f"{module}:{node.lineno}")
        return bool(values)

    def run(self) -> None:
        for module, tree in _trees().items():
            for call, fn in _calls(tree):
                self._call(module, fn, call)
        for module, name in FUNCTIONS:
            for fn_module, fn in self.functions[name]:
                if fn_module == module:
                    for text in _strings(fn):
                        self.add(text, f"{module}:{name}")
        for module, function, variable in VALUES:
            for fn_module, fn in self.functions[function]:
                if fn_module == module:
                    self._assigned(module, fn, ast.Name(id=variable), 0)
        for module, name in DICTS:
            for node in _trees()[module].body:
                if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == name for t in node.targets
                ):
                    assert isinstance(node.value, ast.Dict)
                    for value in node.value.values:
                        for text in _strings(value):
                            self.add(text, f"{module}:{name}")

    def _call(self, module: str, fn: ast.AST | None, call: ast.Call) -> None:
        name = _name(call.func)
        if name in ("FieldError", "invalid") and call.args:
            field = _joined(call.args[0])
            for text in field or []:
                self.fields.add(re.split(r"[.{]", text)[0])
        if name in NOT_MESSAGES:
            return
        if name in BUILDERS:
            position = BUILDERS[name]
        elif (
            name.endswith("Error")
            or name in ("report", "not_found", "NotFound", "Conflict")
            or name in ("InvalidTransition", "Forbidden", "TooLarge", "Unauthorized")
        ):
            position = 0
        else:
            return
        args = [call.args[position]] if position is not None and len(call.args) > position else []
        args += [k.value for k in call.keywords if k.arg in ("detail", "message")]
        for arg in args:
            self.follow(module, fn, arg)


@cache
def messages() -> dict[str, str]:
    """Every message template of the sources → where it is (module:line)."""
    walk = _Walk()
    walk.run()
    unfollowed = walk.unfollowed - set(FOLLOWED_ELSEWHERE)
    assert not unfollowed, f"messages this test cannot follow back to their text: {unfollowed}"
    return walk.found


def _catalog(locale: str) -> dict[str, str]:
    found: dict[str, str] = {}
    folder = Path(i18n.CATALOGS) / locale / "LC_MESSAGES"
    for po in i18n.catalog_files(folder):
        with po.open("rb") as handle:
            found.update({m.id: m.string for m in read_po(handle) if isinstance(m.id, str)})
    return found


def test_the_walk_finds_the_messages() -> None:
    found = messages()
    assert len(found) > 200
    assert "no unit with serial {serial}" in found  # core/errors.py unknown_unit, an f-string
    assert "the file is larger than %(n)s MB (limit %(setting)s): split it" in found  # a dict


def test_every_message_of_a_use_case_has_a_chinese_translation() -> None:
    chinese = _catalog("zh_CN")
    missing = sorted(text for text in messages() if not chinese.get(text))
    assert not missing, "add to locale/zh_CN/LC_MESSAGES/chinese.po:\n" + "\n".join(
        f'msgid "{text}"' for text in missing
    )


def test_translations_use_only_the_placeholders_of_their_template() -> None:
    """A translation may leave a value out (a column list it says in Chinese), not add one."""
    chinese = _catalog("zh_CN")
    for text in messages():
        if chinese.get(text):
            wanted = set(translate.placeholders(text))
            assert set(translate.placeholders(chinese[text])) <= wanted, text


def test_translations_say_no_english_word() -> None:
    """Outside placeholders and `code` (a JSON key or a command an API user types)."""
    chinese = _catalog("zh_CN")
    for text in messages():
        shown = translate.PLACEHOLDER.sub("", chinese.get(text) or "")
        shown = re.sub(r"`[^`]*`", "", shown)
        words = re.findall(r"\b[a-z]{3,}\b", shown)
        assert not words, (text, words)


def _words() -> set[str]:
    """The words a message's values may be: states, event types, kinds, fields' names."""
    walk = _Walk()
    walk.run()
    states = {status.label for status in Status}
    return {w for w in walk.fields | states | set(EVENT_TYPES) | {"carton", "pallet"} if w}


def test_every_state_event_type_and_field_name_has_a_chinese_label() -> None:
    chinese = _catalog("zh_CN")
    missing = sorted(word for word in _words() if not chinese.get(word))
    assert not missing, "add to locale/zh_CN/LC_MESSAGES/chinese.po:\n" + "\n".join(
        f'msgid "{text}"' for text in missing
    )


def test_an_area_catalog_corrects_a_translation_of_messages_po() -> None:
    """chinese.po sorts before messages.po by name, yet its corrections win."""
    token = i18n.current.set("zh-CN")
    try:
        assert i18n._("Find a unit") == "查找单品"  # messages.po said 查找产品 (a product)
    finally:
        i18n.current.reset(token)
