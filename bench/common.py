"""Shared helpers for the benchmarks: a throwaway home, percentiles, JSON or text output."""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PYCACHE = Path(tempfile.gettempdir()) / "agent-tui-bench-pycache"
"""Where the measured processes keep their bytecode (not in the checkout)."""


def child_env() -> dict[str, str]:
    """The environment of a measured ``agent-tui`` process: no API keys, this checkout first, and
    its bytecode cached as an installed package's is. With ``PYTHONDONTWRITEBYTECODE`` set (as in
    some shells and containers) every start would otherwise compile every module of the checkout
    again, a cost no installed copy pays; the first start fills the cache, so warm up once."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    env["PYTHONPATH"] = str(ROOT)
    return env


def fresh_home() -> Path:
    """Point AGENT_TUI_HOME at a new temporary directory and return it; it is removed when the
    benchmark exits, so runs leave nothing in the system's temporary directory."""
    home = Path(tempfile.mkdtemp(prefix="agent-tui-bench-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ["AGENT_TUI_HOME"] = str(home)
    for name in list(os.environ):
        if name.startswith("AGENT_TUI_") and name != "AGENT_TUI_HOME":
            del os.environ[name]
    return home


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {
        "n": len(ordered),
        "p50_ms": pick(0.50),
        "p90_ms": pick(0.90),
        "p99_ms": pick(0.99),
        "max_ms": round(ordered[-1], 3),
        "mean_ms": round(statistics.fmean(ordered), 3),
    }


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def report(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, indent=2))
        return
    for key, value in result.items():
        print(f"{key:<28} {value}")
