"""Checkpoints: what each side-effecting action changed is recorded, and undo restores it exactly."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from agent_tui.config import Settings
from agent_tui.core import display
from agent_tui.core.checkpoints import record
from agent_tui.core.checkpoints.shadow import shadow_for, store_dir
from agent_tui.core.checkpoints.undo import UndoError, apply_undo, plan_undo
from agent_tui.core.sandbox import sandbox_status
from agent_tui.core.store import Store, panes
from tests.conftest import CLI, cli_env
from tests.helpers import add, run_idle, shell, steps


@pytest.fixture
def allowing(settings: Settings) -> Settings:
    settings.policy.tools["shell"] = "allow"
    return settings


def tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (``.git`` aside) with the sha256 of its bytes and its mode."""
    found = {}
    for base, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in files:
            path = Path(base) / name
            mode = oct(path.lstat().st_mode & 0o777)
            found[str(path.relative_to(folder))] = (
                hashlib.sha256(path.read_bytes()).hexdigest() + mode
            )
    return found


def seed(ws: Path) -> None:
    ws.mkdir(parents=True, exist_ok=True)
    (ws / "keep.txt").write_text("unchanged\n")
    (ws / "edit.txt").write_text("one\ntwo\nthree\n")
    (ws / "gone.txt").write_text("delete me\n")
    (ws / "blob.bin").write_bytes(bytes(range(256)) * 4)
    (ws / "sub").mkdir()
    (ws / "sub" / "deep.txt").write_text("deep\n")
    (ws / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (ws / "run.sh").chmod(0o755)


EDIT = (
    "sed -i 's/two/TWO/' edit.txt && echo four >> edit.txt && rm gone.txt && "
    "printf '\\x00\\x01new' > new.bin && head -c 100 /dev/urandom >> blob.bin && "
    "mkdir -p made/deeper && echo hello > made/deeper/x.txt && rm -r sub && chmod -x run.sh"
)


async def test_a_shell_step_is_recorded_and_undone_byte_for_byte(
    store: Store, allowing: Settings, home: Path
) -> None:
    ws = home / "work"
    seed(ws)
    original = tree(ws)
    goal = add(store, {"title": "edit", "workspace": str(ws), "steps": [shell("s", EDIT)]})
    await run_idle(store, allowing)
    assert steps(store, goal)["s"]["status"] == "completed"
    assert tree(ws) != original
    [cp] = record.for_goal(store, goal)
    files = {f["path"]: f for f in record.files_of(cp)}
    assert files["edit.txt"]["status"] == "modified"
    assert (files["edit.txt"]["added"], files["edit.txt"]["removed"]) == (2, 1)
    assert files["gone.txt"]["status"] == "deleted"
    assert files["new.bin"]["status"] == "added" and files["new.bin"]["binary"]
    assert files["blob.bin"]["binary"] and files["blob.bin"]["size"] == 1124
    assert files["sub/deep.txt"]["status"] == "deleted"
    assert "-two" in cp["diff"] and "+TWO" in cp["diff"]
    assert display.changes_summary(cp["files"], cp["added"], cp["removed"]).startswith(
        "changed 7 files"
    )

    plan = plan_undo(store, goal)
    assert not plan.conflicts
    assert {i.path: i.action for i in plan.items}["gone.txt"] == "recreate"
    assert {i.path: i.action for i in plan.items}["new.bin"] == "delete"
    apply_undo(store, plan)
    assert tree(ws) == original


async def test_undo_of_a_middle_step_keeps_a_later_steps_other_files(
    store: Store, allowing: Settings, home: Path
) -> None:
    ws = home / "work"
    seed(ws)
    goal = add(
        store,
        {
            "title": "three",
            "workspace": str(ws),
            "steps": [
                shell("a", "echo a > a.txt"),
                shell("b", "echo b >> edit.txt && echo b > b.txt", depends_on=["a"]),
                shell("c", "echo c > c.txt && echo c >> keep.txt", depends_on=["b"]),
            ],
        },
    )
    await run_idle(store, allowing)
    after_all = tree(ws)
    apply_undo(store, plan_undo(store, goal, "b"))
    now = tree(ws)
    assert "b.txt" not in now
    assert (ws / "edit.txt").read_text() == "one\ntwo\nthree\n"
    for kept in ("a.txt", "c.txt", "keep.txt"):
        assert now[kept] == after_all[kept]


async def test_a_file_changed_since_is_a_conflict(
    store: Store, allowing: Settings, home: Path
) -> None:
    ws = home / "work"
    seed(ws)
    goal = add(
        store, {"title": "c", "workspace": str(ws), "steps": [shell("s", "echo agent > edit.txt")]}
    )
    await run_idle(store, allowing)
    (ws / "edit.txt").write_text("the user's own edit\n")
    plan = plan_undo(store, goal)
    assert plan.conflicts == ["edit.txt"]
    with pytest.raises(UndoError, match="--force"):
        apply_undo(store, plan)
    assert (ws / "edit.txt").read_text() == "the user's own edit\n"
    apply_undo(store, plan, force=True)
    assert (ws / "edit.txt").read_text() == "one\ntwo\nthree\n"


async def test_undo_of_an_undo_puts_the_changes_back(
    store: Store, allowing: Settings, home: Path
) -> None:
    ws = home / "work"
    seed(ws)
    original = tree(ws)
    goal = add(store, {"title": "u", "workspace": str(ws), "steps": [shell("s", EDIT)]})
    await run_idle(store, allowing)
    changed = tree(ws)
    apply_undo(store, plan_undo(store, goal))
    assert tree(ws) == original
    apply_undo(store, plan_undo(store, goal))
    assert tree(ws) == changed
    apply_undo(store, plan_undo(store, goal))
    assert tree(ws) == original


def _git(ws: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env |= {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t"}
    env |= {"GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(
        ["git", *args], cwd=ws, env=env, capture_output=True, text=True, check=True
    ).stdout


def _git_state(ws: Path) -> dict[str, str]:
    files = {}
    for base, _, names in os.walk(ws / ".git"):
        for name in names:
            path = Path(base) / name
            files[str(path.relative_to(ws))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


async def test_a_workspace_that_is_a_git_repository_is_left_untouched(
    store: Store, allowing: Settings, home: Path
) -> None:
    ws = home / "repo"
    seed(ws)
    _git(ws, "init", "-q")
    _git(ws, "add", "-A")
    _git(ws, "commit", "-q", "-m", "first")
    (ws / "edit.txt").write_text("stashed\n")
    _git(ws, "stash", "-q")
    (ws / "keep.txt").write_text("staged\n")
    _git(ws, "add", "keep.txt")
    state = _git_state(ws)
    status = _git(ws, "status", "--porcelain")
    goal = add(
        store, {"title": "g", "workspace": str(ws), "steps": [shell("s", "echo x > new.txt")]}
    )
    await run_idle(store, allowing)
    apply_undo(store, plan_undo(store, goal))
    assert _git_state(ws) == state
    assert _git(ws, "status", "--porcelain") == status
    assert _git(ws, "stash", "list").count("\n") == 1
    assert not (ws / "new.txt").exists()


@pytest.mark.skipif(not sandbox_status("auto").active, reason="bubblewrap is not usable here")
async def test_the_shadow_store_is_unreachable_from_a_sandboxed_step(
    store: Store, allowing: Settings, home: Path
) -> None:
    ws = home / "work"
    seed(ws)
    goal = add(store, {"title": "g", "workspace": str(ws), "steps": [shell("s", "echo 1 > a")]})
    await run_idle(store, allowing)
    shadow = shadow_for(ws)
    assert (shadow / "HEAD").exists()
    peek = add(
        store,
        {
            "title": "peek",
            "workspace": str(ws),
            "steps": [shell("p", f"ls -a {store_dir()}; rm -rf {shadow}; ls {shadow}")],
        },
    )
    await run_idle(store, allowing)
    assert steps(store, peek)["p"]["status"] == "failed"
    assert (shadow / "HEAD").exists()
    apply_undo(store, plan_undo(store, goal))
    assert not (ws / "a").exists()


async def test_the_cli_shows_the_plan_and_asks(
    store: Store, allowing: Settings, home: Path
) -> None:
    ws = home / "work"
    seed(ws)
    goal = add(store, {"title": "g", "workspace": str(ws), "steps": [shell("s", "echo 1 > a")]})
    await run_idle(store, allowing)
    env = cli_env(home)
    asked = subprocess.run(
        [*CLI, "undo", str(goal)], env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    assert asked.returncode == 2 and "delete   a" in asked.stdout and "--yes" in asked.stderr
    assert (ws / "a").exists()
    done = subprocess.run(
        [*CLI, "undo", f"{goal}:s", "--yes"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "undone: changed 1 file (+0 −1)" in done.stdout
    assert not (ws / "a").exists()
    again = subprocess.run(
        [*CLI, "undo", f"{goal}:s", "--yes"], env=env, capture_output=True, text=True
    )
    assert again.returncode == 0 and "recreate a" in again.stdout  # the undo, undone
    assert (ws / "a").read_text() == "1\n"
    missing = subprocess.run(
        [*CLI, "undo", f"{goal}:zz", "--yes"], env=env, capture_output=True, text=True
    )
    assert missing.returncode == 4 and "has no step 'zz'" in missing.stderr


async def test_changes_reach_the_report_the_export_and_show(
    store: Store, allowing: Settings, home: Path
) -> None:
    from agent_tui.core.export import export_goal, render_markdown
    from agent_tui.core.store import report

    ws = home / "work"
    seed(ws)
    goal = add(
        store,
        {"title": "r", "workspace": str(ws), "steps": [shell("s", "echo 1 > a && rm gone.txt")]},
    )
    await run_idle(store, allowing)
    with store.write() as tx:
        text = report.build(tx, goal)
    assert "It changed 2 files (+1 −1)." in text
    assert f"- added: {ws / 'a'}" in text and f"- deleted: {ws / 'gone.txt'}" in text
    doc = export_goal(store, goal)
    assert doc is not None and doc["checkpoints"][0]["files"] == 2
    markdown = render_markdown(doc)
    assert "## Changes in the workspace" in markdown and "- deleted `gone.txt`" in markdown
    shown = subprocess.run(
        [*CLI, "show", str(goal)], env=cli_env(home), capture_output=True, text=True
    )
    assert "changed 2 files (+1 −1)" in shown.stdout and "D gone.txt (+0 −1)" in shown.stdout


async def test_old_finished_goals_lose_their_snapshots_but_keep_the_record(
    store: Store, allowing: Settings, home: Path
) -> None:
    import time

    from agent_tui.core.checkpoints.retention import prune_finished

    ws = home / "work"
    seed(ws)
    old = add(store, {"title": "old", "workspace": str(ws), "steps": [shell("s", "echo 1 > a")]})
    await run_idle(store, allowing)
    recent = add(store, {"title": "new", "workspace": str(ws), "steps": [shell("s", "echo 2 > b")]})
    await run_idle(store, allowing)
    with store.write() as tx:
        tx.execute("UPDATE goals SET finished_at = ? WHERE id = ?", (time.time() - 20 * 86400, old))

    def shadow_refs() -> str:
        return subprocess.run(
            ["git", f"--git-dir={shadow_for(ws)}", "for-each-ref", "--format=%(refname)"],
            capture_output=True,
            text=True,
        ).stdout

    assert "actions/1/before" in shadow_refs()
    assert prune_finished(store, allowing, time.time()) == 1
    assert "actions/1/" not in shadow_refs() and "actions/2/before" in shadow_refs()
    [row] = record.for_goal(store, old)
    assert row["pruned_at"] is not None and row["files"] == 1 and row["diff"]
    with pytest.raises(UndoError, match="pruned"):
        plan_undo(store, old)
    apply_undo(store, plan_undo(store, recent))
    assert not (ws / "b").exists() and (ws / "a").exists()


async def test_a_home_or_root_workspace_is_not_checkpointed_and_says_so(
    store: Store, allowing: Settings, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = home / "user"
    user.mkdir()
    monkeypatch.setenv("HOME", str(user))
    goal = add(store, {"title": "h", "workspace": str(user), "steps": [shell("s", "echo 1 > a")]})
    await run_idle(store, allowing)
    assert steps(store, goal)["s"]["status"] == "completed"
    assert record.for_goal(store, goal) == []
    [event] = [e for e in store.events_after(0) if e.kind == "checkpoint.failed"]
    assert "holds the home directory" in event.message


async def test_parallel_steps_in_a_new_workspace_all_get_checkpoints(
    store: Store, allowing: Settings, home: Path
) -> None:
    ws = home / "fresh"
    ws.mkdir()
    goal = add(
        store,
        {
            "title": "parallel",
            "workspace": str(ws),
            "max_parallel": 6,
            "steps": [shell(f"s{i}", f"echo {i} > file{i}.txt") for i in range(6)],
        },
    )
    await run_idle(store, allowing)
    assert [e.message for e in store.events_after(0) if e.kind == "checkpoint.failed"] == []
    rows = record.for_goal(store, goal)
    assert len(rows) == 6
    changed = {f["path"] for row in rows for f in record.files_of(row)}
    assert changed == {f"file{i}.txt" for i in range(6)}
    apply_undo(store, plan_undo(store, goal))
    assert list(ws.iterdir()) == []


async def test_large_files_and_nested_repositories_are_left_out_and_named(
    store: Store, allowing: Settings, home: Path
) -> None:
    """Files over 10 MiB and nested git repositories are not snapshotted; the record names them,
    and undo leaves them alone."""
    ws = home / "big"
    ws.mkdir(parents=True)
    command = (
        "head -c 11000000 /dev/zero > big.bin && echo small > small.txt && "
        "mkdir inner && git -C inner init -q && echo x > inner/file.txt && "
        "git -C inner -c user.name=t -c user.email=t@t add file.txt && "
        "git -C inner -c user.name=t -c user.email=t@t commit -qm one"
    )
    goal = add(store, {"title": "big", "workspace": str(ws), "steps": [shell("s", command)]})
    await run_idle(store, allowing)
    assert steps(store, goal)["s"]["status"] == "completed"
    [cp] = record.for_goal(store, goal)
    skipped = record.skipped_of(cp)
    assert any(s.startswith("big.bin (11000000 bytes, over the ") for s in skipped), skipped
    assert "inner/ (a git repository of its own)" in skipped
    paths = {f["path"] for f in record.files_of(cp)}
    assert "small.txt" in paths
    assert not any(p == "big.bin" or p.startswith("inner/") for p in paths), paths
    apply_undo(store, plan_undo(store, goal))
    assert not (ws / "small.txt").exists()
    assert (ws / "big.bin").stat().st_size == 11_000_000 and (ws / "inner" / "file.txt").exists()


async def test_a_checkpoint_described_by_action_until_undone(
    store: Store, allowing: Settings, home: Path
) -> None:
    ws = home / "described"
    seed(ws)
    goal = add(store, {"title": "edit", "workspace": str(ws), "steps": [shell("s", EDIT)]})
    await run_idle(store, allowing)
    [cp] = record.for_goal(store, goal)
    action = store.one("SELECT id FROM actions WHERE goal_id = ?", (goal,))
    shown = panes.checkpoint_of(store, action["id"])  # what the output pane shows
    assert shown is not None and shown.items() <= cp.items() and shown["id"] == cp["id"]
    assert panes.checkpoint_of(store, action["id"] + 1000) is None

    lines = record.describe(cp).splitlines()
    assert lines[0] == display.changes_summary(cp["files"], cp["added"], cp["removed"])
    assert "  M edit.txt (+2 −1)" in lines and "  D gone.txt (+0 −1)" in lines
    assert "  A new.bin (binary)" in lines
    short = record.describe(cp, limit=2).splitlines()
    assert len(short) == 4 and short[-1] == f"  … and {cp['files'] - 2} more"
    assert display.changes_summary(0, 0, 0) == "changed nothing"
    assert display.changes_summary(1, 3, 0) == "changed 1 file (+3 −0)"

    apply_undo(store, plan_undo(store, goal))

    [undone] = [c for c in record.for_goal(store, goal) if c["id"] == cp["id"]]
    assert (
        record.describe(undone)
        .splitlines()[0]
        .endswith(f"(undone by checkpoint {undone['undone_by']})")
    )
