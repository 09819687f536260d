"""Typed settings: ``config.toml`` in the config directory, overridden by ``AGENT_TUI_*`` variables.

Environment overrides: ``AGENT_TUI_MODEL`` sets ``model``; ``AGENT_TUI_<SECTION>__<KEY>`` sets a key in
a section, for example ``AGENT_TUI_EXECUTOR__MAX_PARALLEL=8``. Values are read as TOML literals when
they parse as one (``8``, ``true``, ``"x"``) and as plain strings otherwise.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent_tui import paths
from agent_tui.core.rules import RuleSpec
from agent_tui.core.tools.mcp_config import McpSettings
from agent_tui.core.webhooks import WebhookSpec

Decision = Literal["allow", "ask", "deny"]
_RESERVED_ENV = {"AGENT_TUI_HOME", "AGENT_TUI_DB", "AGENT_TUI_CONFIG"}
"""Variables that choose files, not settings (see :mod:`agent_tui.paths`)."""
STORE_URL_ENV = paths.STORE_URL_ENV
"""The short name of ``AGENT_TUI_STORE__URL``."""
LogLevel = Literal["debug", "info", "warning", "error"]


class ConfigError(Exception):
    """A config file or variable that cannot be used; the message names the source, key and problem."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


LABEL_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
"""A worker label, or what a goal's ``runs_on`` names."""


class StoreSettings(_Section):
    url: str | None = None
    """A PostgreSQL server the database lives on (``postgresql://user@host/db``), shared by
    processes on several hosts; none: the SQLite file in the data directory. Also
    ``AGENT_TUI_STORE_URL``."""

    @field_validator("url")
    @classmethod
    def _postgresql(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// url (leave it out to use the SQLite file)")
        return value


class ExecutorSettings(_Section):
    max_parallel: int = Field(4, ge=1, le=256)
    """Most steps running at once, counted across every process sharing the database."""
    per_goal_parallel: int = Field(4, ge=1, le=256)
    """Most steps of one goal running at once (a goal may set a lower limit)."""
    lease_seconds: float = Field(15.0, gt=1, le=3600)
    """How long a claimed step stays ours without a heartbeat before another process recovers it."""
    heartbeat_seconds: float = Field(3.0, gt=0, le=600)
    """How often running steps' leases are renewed; keep well under ``lease_seconds``."""
    watch_interval_ms: int = Field(1000, ge=10, le=60_000)
    """How often ``PRAGMA data_version`` is checked, as a safety net: other processes ring this
    one's doorbell after each commit (:mod:`agent_tui.core.store.wakes`)."""
    labels: list[Annotated[str, Field(pattern=LABEL_PATTERN)]] = Field(default_factory=list)
    """What this host offers (``["gpu", "build"]``): a goal whose recipe says ``runs_on`` one of
    them may run here; ``host:<host name>`` is always one."""
    host: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    """The name this host goes by for placing goals (default: its host name)."""
    shared_workspaces: bool = False
    """Every host sharing the database sees the same workspaces (a shared file system): a goal's
    steps may then run on any host, not only on the one that started it."""


class RetrySettings(_Section):
    max_attempts: int = Field(3, ge=1, le=100)
    """Attempts for a step whose failure is transient (network, rate limit, provider 5xx)."""
    base_delay: float = Field(1.0, gt=0, le=3600)
    """First backoff delay in seconds; doubled each attempt, with jitter."""
    factor: float = Field(2.0, ge=1, le=10)
    """Backoff multiplier."""
    max_delay: float = Field(300.0, gt=0, le=86400)
    """Upper bound of one backoff delay in seconds."""


class LimitSettings(_Section):
    daily_executions: int = Field(0, ge=0)
    """Most tool executions per day across all goals; 0 means no limit."""
    tools: dict[str, int] = Field(default_factory=dict)
    """Most executions per day of a tool, for example ``{ shell = 200, web_fetch = 500 }``."""
    model_calls_per_minute: int = Field(0, ge=0)
    """Most model calls per minute across all goals; 0 means no limit."""
    output_cap_bytes: int = Field(2 * 1024 * 1024, ge=4096)
    """Output kept in the database per action (the tail); the whole stream goes to the log file."""


class ShellSettings(_Section):
    timeout: float = Field(600.0, gt=0, le=86400)
    """Default timeout of a shell command in seconds."""
    kill_grace: float = Field(3.0, ge=0, le=60)
    """Seconds between SIGTERM and SIGKILL when a command is cancelled or times out."""


class SandboxSettings(_Section):
    mode: Literal["auto", "bwrap", "off"] = "auto"
    """``auto``: shell and python run in bubblewrap when it works here, and every such action asks
    when it does not; ``bwrap``: the sandbox is required (commands are refused without it);
    ``off``: no sandbox, rules allow commands to run with your full permissions."""
    network: Literal["approved", "off", "on"] = "approved"
    """Network inside the sandbox: ``approved`` gives it only to actions a person approved (a rule
    or default allow runs offline); ``off`` never; ``on`` always."""
    hide: list[str] = Field(default_factory=list)
    """More paths a sandboxed command must not see (beyond secret stores and agent-tui's files)."""


class CheckpointSettings(_Section):
    enabled: bool = True
    """Snapshot the workspace before each side-effecting action and record what it changed."""
    max_file_bytes: int = Field(10 * 1024 * 1024, ge=0)
    """Files larger than this are left out of checkpoints (and named in the record)."""
    keep_days: float = Field(14.0, ge=0)
    """How long checkpoints of finished goals are kept for undo; 0 keeps them forever."""


class RetentionSettings(_Section):
    output_days: float = Field(30.0, ge=0)
    """How long a finished goal's action output (database rows and log files) is kept; 0 keeps
    it forever. Steps keep their results; ``show`` then prints no output for those actions."""
    events_days: float = Field(90.0, ge=0)
    """How long a finished goal's step and action events are kept (its own goal events stay);
    0 keeps them forever."""
    document_versions_days: float = Field(30.0, ge=0)
    """How long the older versions of a finished goal's documents are kept (the latest stays);
    0 keeps them forever."""


class LLMSettings(_Section):
    api_base: str | None = None
    """Base URL of an OpenAI-compatible server or a proxy (for example http://127.0.0.1:8080/v1)."""
    timeout: float = Field(120.0, gt=0, le=3600)
    """Seconds one model call may take before it counts as a transient failure."""
    retry_window: float = Field(120.0, ge=0, le=86400)
    """Seconds a failing model call is retried (backoff with jitter, Retry-After honoured) before
    its goal waits with reason ``model unreachable`` and resumes by itself when the server answers."""
    max_concurrent: int | None = Field(None, ge=1, le=256)
    """Most model calls in flight at once per endpoint in one process; default 1 for a local
    ``api_base`` (a local server would interrupt its running request) and 4 for hosted providers."""
    context_window: int | None = Field(None, ge=256)
    """The model's context window in tokens, for a local model litellm does not know; longer
    conversations are compacted before they are sent."""
    max_plan_steps: int = Field(12, ge=1, le=100)
    """Most steps a plan may have."""
    step_iterations: int = Field(20, ge=1, le=1000)
    """Most model turns one agent step may take."""
    goal_iterations: int = Field(50, ge=1, le=10000)
    """Most model turns one goal may take, planning included."""
    max_replans: int = Field(2, ge=0, le=10)
    """How often a goal is replanned after a step fails for good."""
    review_plan: bool = False
    """Put every plan in the approvals queue before anything runs."""
    ollama_url: str = "http://127.0.0.1:11434"
    """Where a running Ollama is looked for when no model is configured and no provider key is
    set; an empty string turns the probe off."""


class BudgetSettings(_Section):
    goal_usd: float | None = Field(None, gt=0)
    """Default money budget of one goal in US dollars (none: no limit)."""
    goal_tokens: int | None = Field(None, gt=0)
    """Default token budget of one goal."""
    goal_seconds: float | None = Field(None, gt=0)
    """Default wall-time budget of one goal, from its start."""
    daily_usd: float | None = Field(None, gt=0)
    """Money all goals together may spend per day."""


class WebSettings(_Section):
    search_url: str | None = None
    """Base URL of a SearXNG instance for web_search, e.g. http://127.0.0.1:8888 (its settings.yml
    must allow the json format)."""
    timeout: float = Field(30.0, gt=0, le=600)
    """Seconds for one web_fetch (connection, redirects, download) or one web_search."""
    user_agent: str | None = None
    """User-Agent of the web tools; default agent-tui/<version>."""


class ScheduleSettings(_Section):
    pause_after_failures: int = Field(0, ge=0)
    """Pause a schedule once this many of its runs in a row failed (a run skipped because its
    recipe file no longer loads counts); 0 never pauses. ``schedules --resume ID`` resumes it."""


class ServeSettings(_Section):
    max_viewers: int = Field(8, ge=1, le=256)
    """Most browser tabs ``agent-tui serve`` runs at once (each tab runs its own app process, about
    35 MiB); one more gets a page saying so until a tab closes. ``--max-viewers`` overrides it."""


class NotifySettings(_Section):
    terminal: Literal["auto", "osc9", "osc777", "off"] = "auto"
    """Desktop notifications through the terminal, besides toasts and the bell, for an approval
    needed or a goal finished while the window is hidden: ``osc9`` (iTerm2, WezTerm, Windows
    Terminal, Ghostty, ConEmu), ``osc777`` (foot, urxvt, Ghostty), ``off``; ``auto`` picks from
    the terminal's environment variables and stays off when it cannot tell."""


class SecretSettings(_Section):
    names: list[str] = Field(default_factory=list)
    """More environment variables whose values are secrets (besides *_API_KEY, *_TOKEN,
    *_SECRET and *PASSWORD*): they are redacted from everything stored, shown or logged, in
    every process. Values shorter than 6 characters are never redacted (``agent-tui doctor``
    names such variables)."""


class PolicySettings(_Section):
    tools: dict[str, Decision] = Field(default_factory=dict)
    """Per-tool default decisions, for example ``shell = "allow"``. The hard-deny list still applies."""
    rules: list[RuleSpec] = Field(default_factory=list)
    """Pattern rules (``[[policy.rules]]``): deny beats ask beats allow; the hard-deny list still
    applies."""


class LogSettings(_Section):
    level: LogLevel = "info"
    """What goes to the log file: debug, info, warning or error (``--log-level`` overrides it)."""
    max_bytes: int = Field(5 * 1024 * 1024, ge=64 * 1024)
    """Size at which the log file is rotated (``agent-tui.log`` becomes ``agent-tui.log.1``)."""
    backups: int = Field(3, ge=0, le=100)
    """Rotated files kept besides the current one."""

    @field_validator("level", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


class Settings(BaseModel):
    """Everything configurable; each field documents itself."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    model: str | None = None
    """The litellm model string, for example ``anthropic/claude-sonnet-4-5`` or ``ollama/llama3.2``."""
    store: StoreSettings = Field(default_factory=StoreSettings)
    executor: ExecutorSettings = Field(default_factory=ExecutorSettings)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    shell: ShellSettings = Field(default_factory=ShellSettings)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    checkpoints: CheckpointSettings = Field(default_factory=CheckpointSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    budget: BudgetSettings = Field(default_factory=BudgetSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    schedules: ScheduleSettings = Field(default_factory=ScheduleSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    secrets: SecretSettings = Field(default_factory=SecretSettings)
    mcp: McpSettings = Field(default_factory=McpSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    log: LogSettings = Field(default_factory=LogSettings)
    keys: dict[str, str] = Field(default_factory=dict)
    """``[keys]``: the TUI's keys by binding id, for example ``approve = "y"`` or
    ``pause_goal = "p,space"`` (``agent-tui keys`` lists the ids); the rest keep their keys."""
    webhooks: list[WebhookSpec] = Field(default_factory=list)
    """``[[webhooks]]``: a JSON POST to ``url`` for each event in ``events`` (by default
    goal.completed, goal.failed, approval.requested), retried with backoff."""

    source: str = Field("defaults", exclude=True)
    """Where these settings came from, for ``doctor``."""


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "(top level)"
    if first["type"] == "extra_forbidden":
        return f"{key}: unknown key"
    got = first.get("input")
    shown = "" if isinstance(got, dict) else f" (got {got!r})"
    return f"{key}: {first['msg'][0].lower()}{first['msg'][1:]}{shown}"


def _env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in sorted(environ):
        if not name.startswith("AGENT_TUI_") or name in _RESERVED_ENV:
            continue
        raw = environ[name]
        parts = name.removeprefix("AGENT_TUI_").lower().split("__")
        if name == STORE_URL_ENV:
            parts = ["store", "url"]
        if not all(parts):
            raise ConfigError(
                f"config error in the AGENT_TUI_* environment: {name} names no setting "
                "(use AGENT_TUI_MODEL or AGENT_TUI_<SECTION>__<KEY>)"
            )
        known = Settings.model_fields
        if parts[0] not in known or parts[0] == "source":
            raise ConfigError(
                f"config error in the AGENT_TUI_* environment: {name} names no setting "
                f"(known: {', '.join(k.upper() for k in known if k != 'source')})"
            )
        target = data
        for depth, part in enumerate(parts[:-1]):
            nested = target.setdefault(part, {})
            if not isinstance(nested, dict):
                setting = ".".join(parts[: depth + 1])
                raise ConfigError(
                    f"config error in the AGENT_TUI_* environment: {setting}: set as a whole "
                    f"and by {name} at once"
                )
            target = nested
        if isinstance(target.get(parts[-1]), dict):
            raise ConfigError(
                f"config error in the AGENT_TUI_* environment: {'.'.join(parts)}: set as a "
                f"whole by {name} and key by key by other variables"
            )
        target[parts[-1]] = raw if parts == ["model"] else _env_value(raw)
    return data


def _check_tool_names(settings: Settings) -> str | None:
    """The first ``[policy.tools]`` key that names no built-in tool (MCP names have a dot)."""
    from agent_tui.core.tools.registry import BUILTIN_NAMES as known

    for name in settings.policy.tools:
        if "." not in name and name not in known:
            return f"policy.tools.{name}: unknown tool (known: {', '.join(sorted(known))})"
    return None


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def check_named_config(environ: Mapping[str, str] | None = None) -> None:
    """Raise :class:`ConfigError` if ``--config``/``AGENT_TUI_CONFIG`` names no readable file."""
    environ = os.environ if environ is None else environ
    if not environ.get(paths.CONFIG_ENV, "").strip():
        return
    path = paths.config_file(environ)
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "no such file"
        raise ConfigError(
            f"config error in {path}: {what} (named by --config or {paths.CONFIG_ENV})"
        )


def load_settings(path: Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Read the config file (if any) and the environment; raise :class:`ConfigError` on any problem.

    The default file may be missing (defaults apply); one named by ``--config`` or
    ``AGENT_TUI_CONFIG`` must exist, so a typo never silently means "no config".
    """
    environ = dict(os.environ if environ is None else environ)
    if path is None:
        check_named_config(environ)
    path = path or paths.config_file(environ)
    data: dict[str, Any] = {}
    source = "defaults"
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config error in {path}: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config error in {path}: cannot read the file ({exc})") from None
        source = str(path)
        try:
            Settings.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(f"config error in {path}: {_describe(exc)}") from None
    overrides = _env_overrides(environ)
    try:
        settings = Settings.model_validate(_merge(data, overrides))
    except ValidationError as exc:
        raise ConfigError(
            f"config error in the AGENT_TUI_* environment: {_describe(exc)}"
        ) from None
    if problem := _check_tool_names(settings):
        where = path if path.exists() else "the AGENT_TUI_* environment"
        raise ConfigError(f"config error in {where}: {problem}")
    if overrides:
        source = f"{source} + environment"
    settings.source = source
    return settings
