"""Keeping secrets out of everything agent-tui stores or shows.

Values of environment variables that look like credentials (``*_API_KEY``, ``*_TOKEN``,
``*_SECRET``, ``*PASSWORD*``) and of variables named in ``[secrets] names`` are replaced by
``[redacted:NAME]`` in stored output, transcripts, artifacts, events and logs. The store applies it
to every text it writes; streams go through :class:`StreamRedactor` so a secret split across two
chunks is caught too.

:func:`for_settings` is the one way to get the redactor with the config's names: every process
(CLI commands, the TUI, ``serve``, the executor, the log file) gets its redactor from it, so a name in
``[secrets] names`` is redacted wherever a row is written, ``add`` included.

Values shorter than :data:`MIN_LENGTH` characters are never redacted; ``agent-tui doctor`` names each
secret variable that is set but too short.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent_tui.config import Settings

SECRET_NAME = re.compile(
    r"(_API_KEY|_APIKEY|_TOKEN|_SECRET|_SECRET_KEY|PASSWORD|PASSWD)", re.IGNORECASE
)
MIN_LENGTH = 6
"""Shorter values are not redacted: replacing every "1234" in all output would hide real text."""


class Redactor:
    """Replaces known secret values with ``[redacted:NAME]``."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        values: dict[str, str] = {}
        for name, value in secrets.items():
            value = value.strip()
            if len(value) < MIN_LENGTH:
                continue
            for form in _spellings(value):
                values.setdefault(form, name)
        self._names = values
        ordered = sorted(values, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(v) for v in ordered)) if ordered else None
        self.longest = max((len(v) for v in ordered), default=0)

    def __bool__(self) -> bool:
        return self._pattern is not None

    def redact(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(lambda m: f"[redacted:{self._names[m.group(0)]}]", text)

    def redact_value(self, value: Any) -> Any:
        """``value`` with every string inside it redacted (dicts, lists, tuples)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {k: self.redact_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.redact_value(v) for v in value)
        return value


def _spellings(value: str) -> list[str]:
    """The value as it appears in text and inside JSON strings (escaped, ASCII or not), because
    arguments, results and event data are stored as JSON."""
    forms = [value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]]
    return list(dict.fromkeys(forms))


def secret_names(environ: Mapping[str, str], extra: Iterable[str] = ()) -> list[str]:
    """Variables of ``environ`` that hold secrets: credential-like names plus ``extra``."""
    wanted = set(extra)
    return [n for n in environ if SECRET_NAME.search(n) or n in wanted]


def from_environment(
    environ: Mapping[str, str] | None = None, extra_names: Iterable[str] = ()
) -> Redactor:
    """The redactor for ``environ``; front ends use :func:`for_settings`, which adds the config's
    names."""
    env = os.environ if environ is None else environ
    return Redactor({name: env[name] for name in secret_names(env, extra_names)})


def for_settings(settings: Settings, environ: Mapping[str, str] | None = None) -> Redactor:
    """The redactor of this process: credential-like names plus ``[secrets] names``."""
    return from_environment(environ, settings.secrets.names)


def too_short(settings: Settings, environ: Mapping[str, str] | None = None) -> list[str]:
    """Secret variables that are set (not empty) but too short to be redacted, by name."""
    env = os.environ if environ is None else environ
    return [
        name
        for name in secret_names(env, settings.secrets.names)
        if 0 < len(env[name].strip()) < MIN_LENGTH
    ]


class StreamRedactor:
    """Redacts a stream chunk by chunk, holding back a tail that could be the start of a secret."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self._held = ""

    def feed(self, text: str) -> str:
        if not self.redactor:
            return text
        data = self.redactor.redact(self._held + text)
        keep = self.redactor.longest - 1
        if keep <= 0 or len(data) <= keep:
            self._held, out = data, ""
        else:
            out, self._held = data[:-keep], data[-keep:]
        return out

    def flush(self) -> str:
        data, self._held = self.redactor.redact(self._held), ""
        return data
