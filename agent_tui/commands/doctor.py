"""``agent-tui doctor`` and ``agent-tui locate``."""

from __future__ import annotations

import argparse
import os
import shutil
import time
from typing import Any

from agent_tui import paths
from agent_tui.commands import doctor_mcp
from agent_tui.commands.common import UsageError, emit_json
from agent_tui.config import ConfigError, Settings, load_settings
from agent_tui.core import secrets
from agent_tui.core.checkpoints.shadow import store_dir, store_size
from agent_tui.core.sandbox.wrap import status_for
from agent_tui.core.store import StoreError, health, open_store, retention
from agent_tui.core.store.liveness import live_workers
from agent_tui.core.store.schema import SCHEMA_VERSION
from agent_tui.core.tools.registry import builtin_tools

LOCATIONS = {
    "config": paths.config_file,
    "data": paths.data_dir,
    "db": paths.db_path,
    "themes": paths.themes_dir,
    "log": paths.log_file,
    "outputs": paths.outputs_dir,
    "workspaces": paths.workspaces_dir,
}


def cmd_locate(args: argparse.Namespace) -> int:
    if args.what:
        if args.what not in LOCATIONS:
            raise UsageError(f"locate what? one of: {', '.join(LOCATIONS)}")
        print(LOCATIONS[args.what]())
        return 0
    for name, fn in LOCATIONS.items():
        print(f"{name:<11} {fn()}")
    return 0


CHECK_TIMEOUT = 10.0
"""Seconds the tiny completion of the model check may take."""


def _model_report(model: str | None, api_base: str | None, ollama_url: str) -> dict[str, Any]:
    """The model chosen, and a real check of it: its server's models and one tiny completion."""
    import asyncio

    from agent_tui.core.llm import choose_model
    from agent_tui.core.model_probe import check

    choice = choose_model(model, api_base, ollama_url=ollama_url)
    report: dict[str, Any] = {
        "model": choice.model,
        "ok": choice.model is not None,
        "why": choice.why,
        "api_base": choice.api_base,
    }
    if choice.model is not None:
        probe = asyncio.run(check(choice, timeout=CHECK_TIMEOUT))
        report["check"] = {
            "ok": probe.ok,
            "detail": probe.detail,
            "seconds": round(probe.seconds, 3),
            "models": probe.models,
            "fix": probe.fix,
        }
    return report


def _model_lines(m: dict[str, Any]) -> list[str]:
    lines = [f"  model       {m['model'] + ' (' + m['why'] + ')' if m['ok'] else m['why']}"]
    if m["model"] is not None:
        lines.append(f"  api_base    {m['api_base'] or '(the provider default)'}")
    probe = m.get("check")
    if probe is None:
        return lines
    if probe["ok"]:
        listed = f"; the server lists {', '.join(probe['models'][:5])}" if probe["models"] else ""
        lines.append(f"  model check ok: {probe['detail']} in {probe['seconds']:.2f} s{listed}")
    else:
        took = f" after {probe['seconds']:.2f} s" if probe["seconds"] else ""
        lines.append(f"  model check FAILED{took}: {probe['detail']}")
        lines.append(f"              fix: {probe['fix']}")
    return lines


def _short_secret(name: str) -> str:
    """The warning for a secret variable too short to redact (its value is never shown)."""
    return (
        f"{name} is set but shorter than {secrets.MIN_LENGTH} characters: its value is not "
        "redacted from output, documents, events or logs"
    )


def cmd_doctor(args: argparse.Namespace) -> int:
    report: dict[str, Any] = {"paths": {k: str(fn()) for k, fn in LOCATIONS.items()}}
    problems: list[str] = []
    conf = Settings()
    try:
        conf = load_settings()
        report["config"] = {"ok": True, "source": conf.source}
        model, api_base = conf.model, conf.llm.api_base
        policy = conf.policy.tools
        rules = len(conf.policy.rules)
        found: Settings | None = conf
    except ConfigError as exc:
        found = None
        report["config"] = {"ok": False, "error": str(exc)}
        problems.append(str(exc))
        model, api_base, policy, rules = None, None, {}, 0
    try:
        store = open_store(conf)
        check = health.quick_check(store)
        goals = health.goal_count(store)
        workers = [
            {k: w[k] for k in ("id", "kind", "pid", "host", "heartbeat_at")}
            for w in live_workers(store)
        ]
        report["database"] = {
            "ok": check == "ok",
            "path": str(store.path),
            "schema_version": SCHEMA_VERSION,
            "quick_check": check,
            "goals": goals,
            "executors": workers,
        }
        if check != "ok":
            problems.append(f"database quick_check: {check}")
        report["storage"] = retention.storage(store, conf, time.time(), paths.outputs_dir())
    except StoreError as exc:
        report["database"] = {"ok": False, "error": str(exc)}
        problems.append(str(exc))
    report["model"] = _model_report(model, api_base, conf.llm.ollama_url)
    if not report["model"].get("check", {"ok": True})["ok"]:
        problems.append(f"model check: {report['model']['check']['detail']}")
    tools = {}
    for name, tool in sorted(builtin_tools().items()):
        tools[name] = {
            "decision": policy.get(name, tool.default_decision),
            "side_effects": tool.side_effects,
        }
    report["tools"] = tools
    report["shell"] = shutil.which("bash") or shutil.which("sh")
    sandbox = status_for(found)
    report["sandbox"] = {
        "mode": sandbox.mode,
        "active": sandbox.active,
        "program": sandbox.program,
        "detail": sandbox.detail,
        "network": found.sandbox.network if found else "approved",
    }
    if sandbox.required_but_missing:
        problems.append(f"sandbox: {sandbox.sentence()}")
    report["checkpoints"] = {
        "enabled": found.checkpoints.enabled if found else True,
        "store": str(store_dir()),
        "bytes": store_size(),
        "git": shutil.which("git"),
    }
    servers = doctor_mcp.check_servers(found) if found else {}
    problems.extend(doctor_mcp.problems(servers))
    report["mcp_servers"] = servers
    report["config_rules"] = rules
    report["warnings"] = [_short_secret(name) for name in secrets.too_short(conf)]
    report["problems"] = problems
    report["ok"] = not problems
    if args.json:
        emit_json(report)
        return 0 if not problems else 1
    print("agent-tui doctor")
    for name, value in report["paths"].items():
        print(f"  {name:<11} {value}")
    cfg = report["config"]
    print(
        f"  config      {'ok (' + cfg['source'] + ')' if cfg['ok'] else 'ERROR: ' + cfg['error']}"
    )
    db = report["database"]
    if db["ok"]:
        print(
            f"  database    ok, schema {db['schema_version']}, {db['goals']} goals, "
            f"{len(db['executors'])} executor(s) running"
        )
    else:
        print(f"  database    ERROR: {db.get('error') or db.get('quick_check')}")
    if "storage" in report:
        print(_storage_line(report["storage"]))
    for line in _model_lines(report["model"]):
        print(line)
    print("  tools       " + ", ".join(f"{n} ({t['decision']})" for n, t in tools.items()))
    print(f"  shell       {report['shell'] or 'MISSING: install bash'}")
    warn = "" if sandbox.active or sandbox.mode == "off" else "WARNING: "
    print(f"  sandbox     {warn}{sandbox.sentence()}")
    cps = report["checkpoints"]
    if not cps["git"]:
        print("  checkpoints WARNING: git is not installed: no checkpoints, no undo (install git)")
    elif cps["enabled"]:
        print(f"  checkpoints {cps['bytes'] / 1048576:.1f} MiB in {cps['store']}")
    else:
        print("  checkpoints off ([checkpoints] enabled = false): no undo")
    for line in doctor_mcp.lines(servers):
        print(line)
    if rules:
        print(f"  rules       {rules} from the config (see `agent-tui rules`)")
    for warning in report["warnings"]:
        print(f"  warning     {warning}")
    if os.environ.get("AGENT_TUI_HOME"):
        print(f"  AGENT_TUI_HOME={os.environ['AGENT_TUI_HOME']}")
    print("all good" if not problems else f"{len(problems)} problem(s) above")
    return 0 if not problems else 1


def _storage_line(sizes: dict[str, Any]) -> str:
    """Sizes of the database and the output logs, and what ``[retention]`` would free now."""

    def mib(n: int) -> str:
        return f"{n / 2**20:.1f} MiB"

    free = sizes["retention_would_free"]["bytes"]
    inside = f", {mib(sizes['free_bytes'])} free inside" if sizes["free_bytes"] else ""
    return (
        f"  storage     database {mib(sizes['database_bytes'] + sizes['wal_bytes'])}{inside}, "
        f"output logs {mib(sizes['outputs_bytes'])} ({sizes['outputs_files']} files); "
        f"retention would free {mib(free)} now"
        + ("; `agent-tui vacuum` returns free pages to the disk" if sizes["free_bytes"] else "")
    )
