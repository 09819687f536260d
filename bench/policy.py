"""Policy: the time of one decision against 200 stored rules of every kind.

10,000 actions (plain and compound shell commands, python code, file paths, URLs, MCP calls) are
decided one by one, each with ``load_rules(store)`` as the executor would call it (a cached read
unless the rules changed). Target: at most 0.1 ms per decision, mean and p99.
"""

from __future__ import annotations

import random
import statistics
import time
from typing import Any

from common import fresh_home, parser, percentiles, report

from agent_tui import paths
from agent_tui.config import Settings
from agent_tui.core.policy import decide
from agent_tui.core.rules import RuleSpec, load_rules, save_rule
from agent_tui.core.store import Store

WORDS = ["git", "make", "npm", "cargo", "docker", "kubectl", "ls", "cat", "grep", "uv", "pytest"]
SUBS = ["status", "log", "diff", "build", "test", "run", "lint", "push", "install", "show"]
DIRS = ["docs", "src", "tests", "build", "data", "notes", "secrets", "vendor", "tmp", "out"]
HOSTS = ["example.com", "python.org", "github.com", "pypi.org", "wikipedia.org", "evil.net"]


def rule_specs(n: int, rng: random.Random) -> list[RuleSpec]:
    """``n`` distinct rules: 40% shell prefixes, 10% regexes, 25% globs, 15% domains, 10% any."""
    specs: list[RuleSpec] = []
    for i in range(n):
        kind = i % 20
        decision = rng.choices(["allow", "ask", "deny"], [0.8, 0.1, 0.1])[0]
        if kind < 8:
            words = f"{rng.choice(WORDS)} {rng.choice(SUBS)}{i}"
            specs.append(RuleSpec(tool="shell", prefix=words, decision=decision))
        elif kind < 10:
            regex = rf"{rng.choice(WORDS)} --(?:x|y){i} [\w./-]+"
            tool = rng.choice(["shell", "python"])
            specs.append(RuleSpec(tool=tool, regex=regex, decision=decision))
        elif kind < 15:
            glob = rng.choice(["{d}/**", "{d}/*.md", "**/{d}/*.py", "{d}/[a-m]*.txt"])
            tool = rng.choice(["read_file", "write_file", "list_files"])
            glob = glob.format(d=f"{rng.choice(DIRS)}{i}")
            specs.append(RuleSpec(tool=tool, glob=glob, decision=decision))
        elif kind < 18:
            host = f"h{i}.{rng.choice(HOSTS)}"
            specs.append(RuleSpec(tool="web_fetch", domain=host, decision=decision))
        else:
            tool = rng.choice([f"mcp{i}.*", f"srv.tool{i}"])
            specs.append(RuleSpec(tool=tool, decision=decision))
    return specs


def covered(spec: RuleSpec, i: int) -> tuple[str, dict[str, Any]]:
    """A call that ``spec`` covers."""
    if spec.prefix:
        return "shell", {"command": f"{spec.prefix} --flag value{i}"}
    if spec.regex:
        word = spec.regex.split()[0]
        key = "command" if spec.tool == "shell" else "code"
        return spec.tool, {key: f"{word} --x{spec.regex.split('(?:x|y)')[1].split()[0]} a/b{i}"}
    if spec.glob:
        path = spec.glob.replace("**", "a/b").replace("[a-m]", "c").replace("*", "f")
        return spec.tool, {"path": path}
    if spec.domain:
        return "web_fetch", {"url": f"https://api.{spec.domain}/v1/items?page={i}"}
    return spec.tool.replace("*", "call"), {"q": i}


def actions(n: int, specs: list[RuleSpec], rng: random.Random) -> list[tuple[str, dict[str, Any]]]:
    """Calls of every kind: half covered by a rule, half not (plain, compound, code, URLs)."""
    out: list[tuple[str, dict[str, Any]]] = []
    for i in range(n):
        kind = i % 8
        if kind < 4:
            out.append(covered(rng.choice(specs), i))
        elif kind == 4:
            cmd = f"{rng.choice(WORDS)} {rng.choice(SUBS)} x{i}"
            out.append(("shell", {"command": f"{cmd} | grep -v y && echo done{i} > out.txt"}))
        elif kind == 5:
            out.append(("python", {"code": f"import json\nprint(json.dumps({{'i': {i}}}))\n" * 3}))
        elif kind == 6:
            path = f"{rng.choice(DIRS)}{rng.randrange(200)}/sub/file{i}.md"
            out.append((rng.choice(["read_file", "write_file"]), {"path": path}))
        else:
            host = f"h{rng.randrange(200)}.{rng.choice(HOSTS)}"
            out.append(("web_fetch", {"url": f"https://api.{host}/v1/items?page={i}"}))
    return out


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--rules", type=int, default=200)
    p.add_argument("--actions", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    fresh_home()
    rng = random.Random(args.seed)
    store = Store(paths.db_path())
    specs = rule_specs(args.rules, rng)
    for spec in specs:
        save_rule(store, spec)
    calls = actions(args.actions, specs, rng)
    settings = Settings()

    start = time.perf_counter()
    load_rules(store)
    cold_ms = (time.perf_counter() - start) * 1000

    samples: list[float] = []
    decisions = {"allow": 0, "ask": 0, "deny": 0}
    by_rule = 0
    for tool, call_args in calls:
        t0 = time.perf_counter()
        verdict = decide(tool, "ask", call_args, settings, rules=load_rules(store))
        samples.append((time.perf_counter() - t0) * 1000)
        decisions[verdict.decision] += 1
        by_rule += verdict.rule is not None
    stats = percentiles(samples)
    mean = statistics.fmean(samples)
    report(
        {
            "benchmark": "policy",
            "rules": len(load_rules(store)),
            "actions": len(calls),
            "decided_by_a_rule": by_rule,
            "decisions": decisions,
            "first_load_ms": round(cold_ms, 3),
            "mean_ms": round(mean, 4),
            "p50_ms": stats["p50_ms"],
            "p99_ms": stats["p99_ms"],
            "max_ms": stats["max_ms"],
            "target_ms": 0.1,
            "meets_target": mean <= 0.1 and stats["p99_ms"] <= 0.1,
        },
        args.json,
    )


if __name__ == "__main__":
    main()
