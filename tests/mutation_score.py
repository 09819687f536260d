"""The mutation score per module after ``mutmut run``, its surviving mutants, and the floors.

Run by ``make mutation``. A mutant is caught when a test failed or timed out with it; the score
is caught / all mutants of the module. Exits non-zero when a module falls under its floor in
``[tool.mutation-floor]`` (pyproject.toml), which, like the coverage floor, only goes up.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CAUGHT = {"killed", "timeout", "caught by type check"}


def results() -> list[tuple[str, str]]:
    """``(mutant name, status)`` for every mutant of the last run."""
    out = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = []
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and "__mutmut_" in name:
            found.append((name, status))
    return found


def main() -> int:
    floors: dict[str, float] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"][
        "mutation-floor"
    ]
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    survivors: dict[str, list[str]] = defaultdict(list)
    for name, status in results():
        module = name.split(".x")[0].rsplit(".", 1)[-1]
        by_module[module][status] += 1
        if status not in CAUGHT:
            survivors[module].append(f"{name}: {status}")
    failed = False
    for module in sorted(by_module):
        counts = by_module[module]
        total = sum(counts.values())
        caught = sum(counts[s] for s in CAUGHT)
        score = 100.0 * caught / total
        floor = floors.get(module, 0.0)
        mark = "" if score >= floor else f"  UNDER THE FLOOR OF {floor}%"
        failed |= score < floor
        print(f"{module}: {score:.1f}% ({caught} of {total} mutants caught){mark}")
        for line in survivors[module]:
            print(f"    {line}")
    if not by_module:
        print("no mutants: run `mutmut run` first")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
