"""Full-text search: latency over 100,000 goals and 1,000,000 output lines, and what the index costs.

The database is filled the fast way (executemany): 100,000 goals with a title and a text, each with
one action whose output is 10 lines in one chunk (1,000,000 lines), and a document every 100
goals. The index is then built once (timed, and the database's growth measured), and queries of
one to three words, some rare and some common, the last word a prefix, are timed as
``agent-tui search`` runs them (after a refresh that finds nothing new). Target: p95 ≤ 50 ms.
"""

from __future__ import annotations

import random
import time

from common import fresh_home, parser, percentiles, report

from agent_tui.core.store import Store
from agent_tui.core.store.search import refresh, search

WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliett",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "xray",
    "yankee",
    "zulu",
    "build",
    "deploy",
    "backup",
    "report",
    "kernel",
    "memory",
    "disk",
    "network",
    "latency",
    "timeout",
    "cache",
    "index",
    "query",
    "table",
]


def _fill(store: Store, goals: int, lines_per_output: int, rng: random.Random) -> None:
    now = time.time()
    conn = store.conn
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO goals (id, title, source, text, status, priority, workspace, plan_version,"
        " created_at, updated_at) VALUES (?, ?, 'text', ?, 'completed', 5, '', 1, ?, ?)",
        (
            (
                g,
                f"{rng.choice(WORDS)} {rng.choice(WORDS)} goal {g}",
                " ".join(rng.choice(WORDS) for _ in range(12)),
                now,
                now,
            )
            for g in range(1, goals + 1)
        ),
    )
    conn.executemany(
        "INSERT INTO steps (id, goal_id, plan_version, key, position, title, kind, tool, status,"
        " created_at, updated_at) VALUES (?, ?, 1, 's', 0, 'step', 'tool', 'shell', 'completed',"
        " ?, ?)",
        ((g, g, now, now) for g in range(1, goals + 1)),
    )
    conn.executemany(
        "INSERT INTO actions (id, goal_id, step_id, tool, args, side_effects, decision, status,"
        " created_at) VALUES (?, ?, ?, 'shell', '{}', 1, 'allow', 'succeeded', ?)",
        ((g, g, g, now) for g in range(1, goals + 1)),
    )
    conn.executemany(
        "INSERT INTO output (action_id, stream, text, created_at) VALUES (?, 'stdout', ?, ?)",
        (
            (
                g,
                "".join(
                    f"{n} {' '.join(rng.choice(WORDS) for _ in range(6))} code{rng.randrange(10**6)}\n"
                    for n in range(lines_per_output)
                ),
                now,
            )
            for g in range(1, goals + 1)
        ),
    )
    conn.executemany(
        "INSERT INTO artifacts (goal_id, name, version, mime, content, created_at)"
        " VALUES (?, 'Report', 1, 'text/markdown', ?, ?)",
        (
            (g, "# Report\n\n" + " ".join(rng.choice(WORDS) for _ in range(200)), now)
            for g in range(1, goals + 1, 100)
        ),
    )
    conn.execute("COMMIT")


def _size(store: Store) -> int:
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = store.conn.execute("PRAGMA page_size").fetchone()[0]
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    return int(page * pages)


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--goals", type=int, default=100_000)
    p.add_argument("--lines", type=int, default=10, help="output lines per goal")
    p.add_argument("--queries", type=int, default=300)
    args = p.parse_args()
    home = fresh_home()
    rng = random.Random(11)
    store = Store(home / "data" / "agent-tui.db")
    _fill(store, args.goals, args.lines, rng)
    before = _size(store)
    started = time.perf_counter()
    indexed = refresh(store)
    build_s = time.perf_counter() - started
    after = _size(store)

    queries = []
    for i in range(args.queries):
        if i % 3 == 0:  # a rare code: one or two hits among a million lines
            queries.append(f"code{rng.randrange(10**6)}")
        elif i % 3 == 1:  # one common word, its last letters cut: a prefix
            queries.append(rng.choice(WORDS)[:-1])
        else:  # two or three words together
            queries.append(" ".join(rng.choice(WORDS) for _ in range(rng.choice((2, 3)))))
    samples, hits = [], 0
    for query in queries:
        started = time.perf_counter()
        found = search(store, query, limit=20)
        samples.append((time.perf_counter() - started) * 1000)
        hits += len(found)
    started = time.perf_counter()
    added = refresh(store)
    idle_refresh_ms = (time.perf_counter() - started) * 1000
    assert added == 0
    stats = percentiles(samples)
    ordered = sorted(samples)
    stats["p95_ms"] = round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 3)
    report(
        {
            "goals": args.goals,
            "output_lines": args.goals * args.lines,
            "rows_indexed": indexed,
            "index_build_s": round(build_s, 2),
            "db_bytes_before": before,
            "db_bytes_after": after,
            "index_growth_bytes": after - before,
            "index_growth_ratio": round(after / before, 2),
            "search_ms": stats,
            "search_p95_ms": stats["p95_ms"],
            "target_p95_ms": 50,
            "mean_hits": round(hits / len(queries), 1),
            "refresh_with_nothing_new_ms": round(idle_refresh_ms, 3),
        },
        args.json,
    )
    store.close()


if __name__ == "__main__":
    main()
