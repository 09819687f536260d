"""Keeping secrets out of everything agent-tui stores or shows.

Values of environment variables that look like credentials (``*_API_KEY``, ``*_TOKEN``,
``*_SECRET``, ``*PASSWORD*``) and of variables named in ``[secrets] names`` are replaced by
``[redacted:NAME]`` in stored output, transcripts, artifacts, events and logs. The store applies it
to every text it writes; streams go through :class:`StreamRedactor` so a secret split across two
chunks is caught too.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

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
            if len(value) >= MIN_LENGTH and value not in values:
                values[value] = name
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


def secret_names(environ: Mapping[str, str], extra: Iterable[str] = ()) -> list[str]:
    wanted = set(extra)
    return [n for n in environ if SECRET_NAME.search(n) or n in wanted]


def from_environment(
    environ: Mapping[str, str] | None = None, extra_names: Iterable[str] = ()
) -> Redactor:
    env = os.environ if environ is None else environ
    return Redactor({name: env[name] for name in secret_names(env, extra_names)})


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
