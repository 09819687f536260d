"""Checkpoints: the time of one snapshot of a 10,000-file workspace with 10 files changed, and the
shadow repository's growth per checkpoint.

A workspace of 100 folders × 100 small text files is snapshotted once (the first snapshot hashes
everything), then 60 rounds each change 10 random files and take a checkpoint: a snapshot, the
change against the previous one (numstat, name-status and the unified diff), as the executor does
after an action. Targets: snapshot p50 ≤ 50 ms, p99 ≤ 200 ms.
"""

from __future__ import annotations

import random
import time

from common import fresh_home, parser, percentiles, report

from agent_tui.core.checkpoints.shadow import Shadow


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    home = fresh_home()
    ws = home / "workspace"
    rng = random.Random(7)
    for d in range(100):
        folder = ws / f"dir{d:03}"
        folder.mkdir(parents=True)
        for f in range(100):
            (folder / f"file{f:03}.txt").write_text(f"line {d} {f}\n" * 20)
    shadow = Shadow(ws)
    started = time.perf_counter()
    with shadow.locked():
        last, _ = shadow.snapshot()
    first_ms = (time.perf_counter() - started) * 1000
    base_size = shadow.size_bytes()
    snapshots: list[float] = []
    checkpoints: list[float] = []
    rounds = 60
    for i in range(rounds):
        for _ in range(10):
            path = ws / f"dir{rng.randrange(100):03}" / f"file{rng.randrange(100):03}.txt"
            with path.open("a") as handle:
                handle.write(f"change {i}\n")
        started = time.perf_counter()
        with shadow.locked():
            commit, skipped = shadow.snapshot()
        snapped = time.perf_counter()
        change = shadow.change(last, commit, skipped)
        done = time.perf_counter()
        assert 1 <= len(change.files) <= 10, change.summary()
        snapshots.append((snapped - started) * 1000)
        checkpoints.append((done - started) * 1000)
        last = commit
    growth = (shadow.size_bytes() - base_size) / rounds
    report(
        {
            "files": 10_000,
            "changed_per_checkpoint": 10,
            "first_snapshot_ms": round(first_ms, 1),
            "snapshot": percentiles(snapshots),
            "snapshot_and_change": percentiles(checkpoints),
            "store_bytes_after_first": base_size,
            "growth_per_checkpoint_bytes": round(growth),
            "target_p50_ms": 50,
            "target_p99_ms": 200,
        },
        args.json,
    )


if __name__ == "__main__":
    main()
