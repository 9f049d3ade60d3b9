"""Mail merge: templates with placeholders and fallbacks, rendered in Jinja2's sandbox.

Two spellings of a fallback: Jinja's `{{ first_name | default("there") }}` and Mailsuite's
own `{{first_name|there}}` (rewritten to the first before parsing; when the text after `|`
is the name of a filter, it is that filter). A placeholder the workspace knows but the
contact lacks renders empty (or as its fallback); a name nobody knows is an error, found
before anything is sent.

Templates are data from API callers, so beyond the sandbox they may use only placeholders,
a short list of filters and `{% if %}`/`{% set %}`: no loops, calls, macros, includes or
`*`/`**`, which is what keeps a template from spending unbounded time or memory.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from jinja2 import StrictUndefined, TemplateError, Undefined, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

# Standard placeholders; custom field keys of the workspace's contacts come on top.
CONTACT_FIELDS = ("first_name", "last_name", "name", "email", "phone", "source")
UNSUBSCRIBE_URL = "unsubscribe_url"
ALLOWED_FILTERS = (
    "default",
    "d",
    "upper",
    "lower",
    "title",
    "capitalize",
    "trim",
    "truncate",
    "striptags",
    "escape",
    "e",
    "urlencode",
    "length",
    "first",
    "last",
    "int",
    "round",
)
_FORBIDDEN_NODES: tuple[type[nodes.Node], ...] = (
    nodes.For,
    nodes.Macro,
    nodes.CallBlock,
    nodes.FilterBlock,
    nodes.Include,
    nodes.Import,
    nodes.FromImport,
    nodes.Extends,
    nodes.Block,
    nodes.Call,
    nodes.Mul,
    nodes.Pow,
)
# {{name|fallback text}}: the fallback holds no braces, pipes, quotes, parentheses or
# backslashes, so it can be written into a Jinja string literal as it is.
_SHORTHAND = re.compile(r"\{\{\s*([A-Za-z_]\w*)\s*\|\s*([^{}|()\"'\\\n]*?)\s*\}\}")


class MergeError(ValueError):
    """A template that cannot be used: `field` names the part, `reason` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _environment(*, autoescape: bool) -> SandboxedEnvironment:
    environment = SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=autoescape, keep_trailing_newline=True
    )
    environment.filters = {name: environment.filters[name] for name in ALLOWED_FILTERS}
    environment.globals = {}
    environment.tests = {
        name: environment.tests[name]
        for name in ("defined", "undefined", "none", "number", "string", "eq", "ne")
    }
    return environment


_HTML = _environment(autoescape=True)
_PLAIN = _environment(autoescape=False)


def expand_shorthand(source: str) -> str:
    """Mailsuite's `{{first_name|there}}` as Jinja's `{{ first_name | default("there") }}`."""

    def replace(match: re.Match[str]) -> str:
        name, fallback = match.group(1), match.group(2)
        if fallback in _HTML.filters:
            return match.group(0)
        return f'{{{{ {name} | default("{fallback}") }}}}'

    return _SHORTHAND.sub(replace, source)


@dataclass(frozen=True)
class Compiled:
    subject: Any
    html: Any
    text: Any | None
    placeholders: frozenset[str]


def _parse(environment: SandboxedEnvironment, field: str, source: str) -> tuple[Any, set[str]]:
    expanded = expand_shorthand(source)
    try:
        tree = environment.parse(expanded)
        for node in tree.find_all(_FORBIDDEN_NODES):
            kind = type(node).__name__
            raise MergeError(
                field,
                f"line {node.lineno}: {kind} is not allowed; templates use placeholders, "
                "filters and {% if %} only",
            )
        names = meta.find_undeclared_variables(tree)
        return environment.from_string(expanded), names
    except MergeError:
        raise
    except TemplateError as error:
        line = getattr(error, "lineno", None)
        where = f"line {line}: " if line else ""
        raise MergeError(field, f"{where}{error.message or 'does not parse'}") from error


def compile_template(subject: str, html: str, text: str = "") -> Compiled:
    """Parse the three parts; a MergeError names the part that does not parse."""
    subject_template, subject_names = _parse(_PLAIN, "subject", subject)
    html_template, html_names = _parse(_HTML, "html", html)
    text_template, text_names = (None, set()) if not text else _parse(_PLAIN, "text", text)
    return Compiled(
        subject=subject_template,
        html=html_template,
        text=text_template,
        placeholders=frozenset(subject_names | html_names | text_names),
    )


def known_placeholders(custom_keys: Iterable[str]) -> frozenset[str]:
    return frozenset({*CONTACT_FIELDS, UNSUBSCRIBE_URL, *custom_keys})


def unknown_placeholders(compiled: Compiled, known: frozenset[str]) -> list[str]:
    return sorted(compiled.placeholders - known)


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


def merge_values(
    fields: Mapping[str, Any], custom_keys: Iterable[str], unsubscribe_url: str
) -> dict[str, Any]:
    """The render context of one contact: empty values are undefined (so a fallback applies)
    but render as nothing, unlike unknown names, which are errors."""
    values: dict[str, Any] = {name: fields.get(name) for name in CONTACT_FIELDS}
    custom = fields.get("custom_fields") or {}
    for key in custom_keys:
        values.setdefault(key, custom.get(key))
    values[UNSUBSCRIBE_URL] = unsubscribe_url
    return {
        name: Undefined(name=name) if value is None or value == "" else value
        for name, value in values.items()
    }


def render(compiled: Compiled, values: Mapping[str, Any]) -> Rendered:
    try:
        subject = compiled.subject.render(values)
        html = compiled.html.render(values)
        text = compiled.text.render(values) if compiled.text is not None else html_to_text(html)
    except TemplateError as error:
        raise MergeError("template", error.message or "cannot be rendered") from error
    except (TypeError, ValueError, ArithmeticError) as error:
        raise MergeError("template", str(error)) from error
    # A header holds one line: a value with a line break must not add headers.
    return Rendered(subject=" ".join(subject.split()), html=html, text=text)


class _TextExtractor(HTMLParser):
    _BLOCKS = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6"})
    _SKIPPED = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0
        self._href: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIPPED:
            self._skipping += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")
        elif tag == "a":
            self._href.append(dict(attrs).get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in ("p", "div", "h1", "h2", "h3", "h4", "h5", "h6"):
            self.parts.append("\n")
        elif tag == "a" and self._href:
            href = self._href.pop()
            if href and href.startswith(("http://", "https://")):
                self.parts.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """The plain-text part of an HTML body: its text, one paragraph a line, links shown."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = (" ".join(line.split()) for line in "".join(extractor.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"
