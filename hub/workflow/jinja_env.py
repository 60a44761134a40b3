"""The sandboxed Jinja environment templates run in, and compiled-template caching.

The environment is :class:`jinja2.sandbox.ImmutableSandboxedEnvironment` with
:class:`jinja2.StrictUndefined`: no access to attributes starting with ``_``, no calls
that modify lists or dicts, no loader (so no ``import``/``include``/``extends``; those
tags are also refused when compiling), only the ``now`` and ``range`` globals, and guards
on ``*``, ``**`` and ``%`` so a template cannot build huge strings or numbers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, meta, nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.parser import Parser
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import consume

from hub.workflow.filters import FILTERS, GLOBALS, REMOVED_FILTERS

__all__ = [
    "ENV",
    "Compiled",
    "InvalidTemplate",
    "Parsed",
    "compile_template",
    "is_template",
    "parse_template",
]

_MAX_SIZE = 100_000
_MAX_EXPONENT = 1000
_WIDE_FORMAT = re.compile(r"%[-+ #0]*(\*|\d{4,})|%[-+ #0]*\d*\.(\*|\d{4,})")
_SINGLE = re.compile(r"^\s*\{\{-?(?P<inner>.*?)-?\}\}\s*$", re.DOTALL)
_REFUSED_TAGS: dict[type[nodes.Node], str] = {
    nodes.Import: "import",
    nodes.FromImport: "from ... import",
    nodes.Include: "include",
    nodes.Extends: "extends",
}


def _finalize(value: Any) -> Any:
    """How values print inside text: null as "", true/false, lists and maps as JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return value


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox plus size guards on the operators that can allocate without bound."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and _is_int(left) and _is_int(right):
            if abs(left) > 1 and right > _MAX_EXPONENT:
                raise SecurityError(f"exponent {right} is too large (at most {_MAX_EXPONENT})")
        elif operator == "*":
            for seq, times in ((left, right), (right, left)):
                sized = isinstance(seq, str | list | tuple) and _is_int(times)
                if sized and len(seq) * times > _MAX_SIZE:
                    raise SecurityError(f"result would exceed {_MAX_SIZE} items")
        elif operator == "%" and isinstance(left, str) and _WIDE_FORMAT.search(left):
            raise SecurityError("'%' formatting with a width of 1000 or more is not allowed")
        return super().call_binop(context, operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        """``x.name`` reads key ``name`` of a mapping first: data such as an event's
        ``items`` or ``keys`` field wins over the dict method of that name."""
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                pass
        return super().getattr(obj, attribute)


#: Python internals (``__class__``, ``_Foo__bar``), never keys of the run's data
_PRIVATE = re.compile(r"^(__|_[A-Za-z0-9]+__)")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _make_env() -> _Environment:
    env = _Environment(undefined=StrictUndefined, autoescape=False, finalize=_finalize)
    env.globals.clear()
    env.globals.update(GLOBALS)
    for name in REMOVED_FILTERS:
        env.filters.pop(name, None)
    env.filters.update(FILTERS)
    return env


ENV = _make_env()


class InvalidTemplate(Exception):
    """A template that does not compile; ``message`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Compiled:
    """A compiled template: a native value (``native``, one expression) or text."""

    source: str
    template: Any  # jinja2.Template (untyped in Jinja's stubs)
    native: bool
    paths: tuple[tuple[str, ...], ...]  # dotted names read, in order of appearance
    globals: dict[str, Any]

    def run(self, context: Mapping[str, Any]) -> Any:
        """The value (``native``) or text of the template for ``context``.

        Builds Jinja's render context from one prepared dict (``shared``): Jinja's own
        ``render`` merges the globals through a ChainMap on every call, which costs more
        than evaluating a short expression.
        """
        ctx = self.template.new_context({**self.globals, **context}, shared=True)
        if self.native:
            consume(self.template.root_render_func(ctx))
            return ctx.vars["result"]
        return ENV.concat(self.template.root_render_func(ctx))


def is_template(text: str) -> bool:
    """True when ``text`` contains template markup (``{{``, ``{%`` or ``{#``)."""
    return "{{" in text or "{%" in text or "{#" in text


@dataclass(frozen=True)
class Parsed:
    """A parsed and checked template, not compiled to code (validation needs no more)."""

    source: str
    expression: str | None  # the expression's text when ``source`` is one native value
    paths: tuple[tuple[str, ...], ...]  # dotted names read, in order of appearance


@lru_cache(maxsize=4096)
def parse_template(source: str, condition: bool = False) -> Parsed:
    """Parse and check (and cache) ``source`` without generating code.

    Checks what compiling would: the syntax, the refused tags, that every filter and
    test exists (also inside ``if``, where Jinja would only fail when it is reached) and
    that nothing assigns to ``loop``. Raises :class:`InvalidTemplate`.
    """
    try:
        inner: str | None = None
        expr: nodes.Expr | None = None
        match = _SINGLE.match(source)
        if match is not None:
            inner = match.group("inner")
            try:
                expr = _parse_expression(inner)
            except TemplateSyntaxError:
                inner = None
        elif condition and not is_template(source):
            inner = source
            expr = _parse_expression(source)
        if inner is not None and expr is not None:
            tree = nodes.Template([nodes.Output([expr])])
            tree.set_environment(ENV)
        else:
            inner = None
            tree = ENV.parse(source)
        declares = _inspect(tree)
        return Parsed(source, inner, _name_paths(tree, declares))
    except TemplateSyntaxError as exc:
        raise _invalid(exc, source) from None


@lru_cache(maxsize=4096)
def compile_template(source: str, condition: bool = False) -> Compiled:
    """Compile (and cache) ``source``.

    A text that is exactly one ``{{ expr }}`` becomes an expression returning a native
    value (compiled as ``{% set result = expr %}``, as Jinja's ``compile_expression``).
    With ``condition``, a text without markup is a bare expression (``if:``).
    Raises :class:`InvalidTemplate`.
    """
    parsed = parse_template(source, condition)
    try:
        if parsed.expression is not None:
            expr = _parse_expression(parsed.expression)
            body = [nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)]
            template = ENV.from_string(nodes.Template(body, lineno=1))
        else:
            template = ENV.from_string(source)
    except TemplateSyntaxError as exc:
        raise _invalid(exc, source) from None
    native = parsed.expression is not None
    return Compiled(source, template, native, parsed.paths, dict(template.globals))


def _invalid(exc: TemplateSyntaxError, source: str) -> InvalidTemplate:
    where = f" (line {exc.lineno})" if "\n" in source.strip() else ""
    return InvalidTemplate(f"template syntax error: {exc.message}{where}")


def _parse_expression(text: str) -> nodes.Expr:
    parser = Parser(ENV, text, state="variable")
    expr = parser.parse_expression()
    if not parser.stream.eos:
        token = parser.stream.current
        raise TemplateSyntaxError(f"unexpected {token.value!r} after the expression", 1)
    return expr


def _inspect(tree: nodes.Template) -> bool:
    """Refuse what compiling would (and the loader tags); True when the template
    declares names of its own (``for``, ``set``, ``macro``...), in one walk."""
    declares = False
    for node in tree.find_all((nodes.Stmt, nodes.Filter, nodes.Test)):
        tag = _REFUSED_TAGS.get(type(node))
        if tag is not None:
            raise InvalidTemplate(
                f"'{{% {tag} %}}' is not allowed in templates: a template sees only its "
                "own text and the run's data"
            )
        if isinstance(node, nodes.Filter | nodes.Test):
            kind, known = (
                ("filter", ENV.filters) if isinstance(node, nodes.Filter) else ("test", ENV.tests)
            )
            if node.name not in known:
                raise TemplateSyntaxError(f"No {kind} named {node.name!r}.", node.lineno)
        elif isinstance(node, nodes.For):
            for name in node.target.find_all(nodes.Name):
                if name.ctx == "store" and name.name == "loop":
                    message = "Can't assign to special loop variable in for-loop target"
                    raise TemplateSyntaxError(message, name.lineno)
        declares = declares or not isinstance(node, nodes.Output | nodes.If)
    _refuse_internals(tree)
    return declares


def _refuse_internals(tree: nodes.Template) -> None:
    """Refuse Python internals read off a value that is not a name (``''.__class__``):
    names are checked where they are known (validation, then the sandbox at run time)."""
    found: list[tuple[int, str]] = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr):
            key: Any = node.attr
        else:
            key = getattr(getattr(node, "arg", None), "value", None)
        if not (isinstance(key, str) and _PRIVATE.match(key)):
            continue
        depth, root = 0, getattr(node, "node", None)
        while isinstance(root, nodes.Getattr | nodes.Getitem):
            depth, root = depth + 1, getattr(root, "node", None)
        if not isinstance(root, nodes.Name):
            found.append((depth, key))
    if found:
        raise InvalidTemplate(f"access to '{min(found)[1]}' is not allowed in templates")


def _name_paths(tree: nodes.Template, declares: bool = True) -> tuple[tuple[str, ...], ...]:
    """Dotted names read from the run's data, e.g. ``("steps", "existing")``.

    Without declarations of its own every name a template loads is the run's; otherwise
    Jinja's scoping analysis tells which are.
    """
    if declares:
        undeclared = meta.find_undeclared_variables(tree)
    else:
        undeclared = {n.name for n in tree.find_all(nodes.Name) if n.ctx == "load"}
    found: list[tuple[str, ...]] = []
    _collect(tree, undeclared, found)
    return tuple(dict.fromkeys(found))


def _collect(node: nodes.Node, undeclared: set[str], found: list[tuple[str, ...]]) -> None:
    if isinstance(node, nodes.Getattr | nodes.Getitem | nodes.Name):
        parts: list[str] = []
        current: nodes.Node = node
        while True:
            if isinstance(current, nodes.Getattr):
                parts.append(current.attr)
                current = current.node
            elif isinstance(current, nodes.Getitem):
                arg = current.arg
                if isinstance(arg, nodes.Const) and isinstance(arg.value, str):
                    parts.append(arg.value)
                else:  # a computed or numeric index: the readable path stops here
                    parts.clear()
                    _collect(arg, undeclared, found)
                current = current.node
            else:
                break
        if isinstance(current, nodes.Name):
            if current.ctx == "load" and current.name in undeclared:
                found.append((current.name, *reversed(parts)))
        else:
            _collect(current, undeclared, found)
        return
    for child in node.iter_child_nodes():
        _collect(child, undeclared, found)
