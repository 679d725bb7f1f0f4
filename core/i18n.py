"""The one message catalogue: Japanese by default, English with ``--lang en``.

Catalogues are TOML files in ``core/locales``; nested tables become dotted keys
(``[auth] failed = ...`` → ``auth.failed``). Parameters use ``str.format`` fields.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Literal

from core.errors import Issue, SesshuError, ValidationFailed

Language = Literal["ja", "en"]
LANGUAGES: tuple[Language, ...] = ("ja", "en")
DEFAULT_LANGUAGE: Language = "ja"


def parse_language(text: str | None) -> Language:
    value = (text or DEFAULT_LANGUAGE).strip().lower()
    for language in LANGUAGES:
        if value == language:
            return language
    raise ValueError(value)


def _flatten(table: Mapping[str, object], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, dotted + "."))
        else:
            flat[dotted] = str(value)
    return flat


@cache
def _load(language: Language) -> dict[str, str]:
    text = resources.files("core.locales").joinpath(f"{language}.toml").read_text("utf-8")
    return _flatten(tomllib.loads(text))


class _Params(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Catalogue:
    def __init__(self, language: Language = DEFAULT_LANGUAGE) -> None:
        self.language: Language = language
        self._messages = _load(language)

    def message_keys(self) -> frozenset[str]:
        return frozenset(self._messages)

    def has(self, key: str) -> bool:
        return key in self._messages

    def __call__(self, key: str, **params: object) -> str:
        template = self._messages.get(key)
        if template is None:
            return key
        return template.format_map(_Params(params))

    def field(self, name: str) -> str:
        """A field's label; ``12.date`` names a field of slip 12."""
        slip, dot, rest = name.partition(".")
        if dot and not self.has(f"field.{name}"):
            return self("slip.field_of", slip=slip, field=self.field(rest))
        return self(f"field.{name}") if self.has(f"field.{name}") else name

    def issue(self, issue: Issue) -> str:
        text = self(issue.key, **self._params(issue.params))
        if not issue.field:
            return text
        return self("error.field", field=self.field(issue.field), message=text)

    def error(self, error: SesshuError) -> str:
        if isinstance(error, ValidationFailed) and error.issues:
            return self("error.list_separator").join(self.issue(i) for i in error.issues)
        return self(error.key, **self._params(error.params))

    def _params(self, params: Mapping[str, object]) -> dict[str, object]:
        """Parameters named ``*_key`` are message keys themselves, rendered without the suffix."""
        rendered: dict[str, object] = {}
        for name, value in params.items():
            if name.endswith("_key"):
                rendered[name.removesuffix("_key")] = self(str(value))
            else:
                rendered[name] = value
        return rendered


@cache
def catalogue(language: Language = DEFAULT_LANGUAGE) -> Catalogue:
    return Catalogue(language)
