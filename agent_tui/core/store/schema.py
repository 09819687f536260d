"""The database schema as forward migrations keyed on ``PRAGMA user_version``.

Each entry of :data:`MIGRATIONS` takes the schema from version ``i`` to ``i + 1`` and runs in one
transaction. Never edit a released migration: append a new one.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 0 -> 1: the whole first schema.
    """
    CREATE TABLE goals (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        source TEXT NOT NULL,              -- 'recipe' | 'text'
        text TEXT,                         -- the free-text goal
        recipe_path TEXT,
        recipe TEXT,                       -- the validated recipe as JSON
        status TEXT NOT NULL,
        wait_reason TEXT,                  -- approval | budget | no model | rate limit | daily limit ...
        status_message TEXT,               -- the human sentence behind a waiting or failed state
        priority INTEGER NOT NULL DEFAULT 5,
        dry_run INTEGER NOT NULL DEFAULT 0,
        max_parallel INTEGER,
        workspace TEXT NOT NULL,
        schedule_id INTEGER REFERENCES schedules(id),
        plan_version INTEGER NOT NULL DEFAULT 0,
        budget TEXT,
        archived INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL
    );
    CREATE INDEX goals_status ON goals(status);

    CREATE TABLE plans (
        id INTEGER PRIMARY KEY,
        goal_id INTEGER NOT NULL REFERENCES goals(id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        reason TEXT,
        steps TEXT NOT NULL,
        created_at REAL NOT NULL,
        UNIQUE (goal_id, version)
    );

    CREATE TABLE steps (
        id INTEGER PRIMARY KEY,
        goal_id INTEGER NOT NULL REFERENCES goals(id) ON DELETE CASCADE,
        plan_version INTEGER NOT NULL,
        key TEXT NOT NULL,
        position INTEGER NOT NULL,
        title TEXT NOT NULL,
        kind TEXT NOT NULL,                -- 'tool' | 'agent'
        tool TEXT,
        args TEXT NOT NULL DEFAULT '{}',
        instructions TEXT,
        approval TEXT,                     -- 'ask' forces an approval
        status TEXT NOT NULL,
        wait_reason TEXT,
        attempt INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL DEFAULT 3,
        next_attempt_at REAL,
        lease_owner TEXT,
        lease_expires REAL,
        result TEXT,                       -- JSON: output, data
        error TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        UNIQUE (goal_id, plan_version, key)
    );
    CREATE INDEX steps_status ON steps(status);
    CREATE INDEX steps_goal ON steps(goal_id, status);
    CREATE INDEX steps_lease ON steps(lease_owner) WHERE lease_owner IS NOT NULL;

    CREATE TABLE step_deps (
        step_id INTEGER NOT NULL REFERENCES steps(id) ON DELETE CASCADE,
        depends_on INTEGER NOT NULL REFERENCES steps(id) ON DELETE CASCADE,
        PRIMARY KEY (step_id, depends_on)
    );
    CREATE INDEX step_deps_reverse ON step_deps(depends_on);

    CREATE TABLE actions (
        id INTEGER PRIMARY KEY,
        goal_id INTEGER NOT NULL REFERENCES goals(id) ON DELETE CASCADE,
        step_id INTEGER NOT NULL REFERENCES steps(id) ON DELETE CASCADE,
        attempt INTEGER NOT NULL DEFAULT 0,
        tool TEXT NOT NULL,
        args TEXT NOT NULL,
        side_effects INTEGER NOT NULL,
        decision TEXT NOT NULL,            -- allow | ask | deny
        decision_reason TEXT,
        preview TEXT,                      -- exactly what will run: command, diff, URL
        status TEXT NOT NULL,
        owner TEXT,
        exit_code INTEGER,
        result TEXT,
        error TEXT,
        output_bytes INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL
    );
    CREATE INDEX actions_step ON actions(step_id);
    CREATE INDEX actions_started ON actions(started_at);

    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        step_id INTEGER NOT NULL REFERENCES steps(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        role TEXT NOT NULL,
        content TEXT,
        created_at REAL NOT NULL
    );
    CREATE INDEX messages_step ON messages(step_id, seq);

    CREATE TABLE output (
        id INTEGER PRIMARY KEY,
        action_id INTEGER NOT NULL REFERENCES actions(id) ON DELETE CASCADE,
        stream TEXT NOT NULL,
        text TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX output_action ON output(action_id, id);

    CREATE TABLE artifacts (
        id INTEGER PRIMARY KEY,
        goal_id INTEGER NOT NULL REFERENCES goals(id) ON DELETE CASCADE,
        step_id INTEGER REFERENCES steps(id) ON DELETE SET NULL,
        action_id INTEGER REFERENCES actions(id) ON DELETE SET NULL,
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        mime TEXT NOT NULL,
        content TEXT NOT NULL,
        created_at REAL NOT NULL,
        UNIQUE (goal_id, name, version)
    );

    CREATE TABLE approvals (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,                -- action | unknown | budget | plan
        goal_id INTEGER NOT NULL REFERENCES goals(id) ON DELETE CASCADE,
        step_id INTEGER REFERENCES steps(id) ON DELETE CASCADE,
        action_id INTEGER REFERENCES actions(id) ON DELETE CASCADE,
        status TEXT NOT NULL,              -- pending | approved | rejected | expired | cancelled
        title TEXT NOT NULL,
        detail TEXT NOT NULL,
        choice TEXT,
        reason TEXT,
        decided_by TEXT,
        expires_at REAL,
        created_at REAL NOT NULL,
        decided_at REAL
    );
    CREATE INDEX approvals_status ON approvals(status);

    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        kind TEXT NOT NULL,
        goal_id INTEGER,
        step_id INTEGER,
        action_id INTEGER,
        message TEXT NOT NULL,
        data TEXT
    );
    CREATE INDEX events_goal ON events(goal_id, id);

    CREATE TABLE schedules (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        cron TEXT NOT NULL,
        recipe TEXT NOT NULL,
        recipe_path TEXT,
        priority INTEGER NOT NULL DEFAULT 5,
        dry_run INTEGER NOT NULL DEFAULT 0,
        enabled INTEGER NOT NULL DEFAULT 1,
        next_run_at REAL,
        last_run_at REAL,
        last_goal_id INTEGER,
        last_status TEXT,
        failure_streak INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL
    );

    CREATE TABLE rules (
        id INTEGER PRIMARY KEY,
        tool TEXT NOT NULL,
        matcher TEXT NOT NULL,             -- prefix | regex | glob | domain | any
        pattern TEXT NOT NULL,
        decision TEXT NOT NULL,
        source TEXT NOT NULL,
        created_at REAL NOT NULL
    );

    CREATE TABLE usage (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        goal_id INTEGER REFERENCES goals(id) ON DELETE SET NULL,
        step_id INTEGER REFERENCES steps(id) ON DELETE SET NULL,
        model TEXT NOT NULL,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        cost REAL
    );

    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );

    CREATE TABLE workers (
        id TEXT PRIMARY KEY,
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        kind TEXT NOT NULL,
        started_at REAL NOT NULL,
        heartbeat_at REAL NOT NULL
    );
    """,
    # 1 -> 2: agent steps (allowed tools, tool-call ids), replans and plan review.
    """
    ALTER TABLE steps ADD COLUMN tools TEXT;
    ALTER TABLE actions ADD COLUMN tool_call_id TEXT;
    CREATE INDEX actions_tool_call ON actions(step_id, tool_call_id);
    ALTER TABLE goals ADD COLUMN replans INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE goals ADD COLUMN review_plan INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX usage_goal ON usage(goal_id);
    CREATE INDEX usage_ts ON usage(ts);
    """,
    # 2 -> 3: approval timeouts and windows that reopen (rate limits, the daily limit).
    """
    ALTER TABLE goals ADD COLUMN approval_timeout REAL;
    ALTER TABLE goals ADD COLUMN resume_at REAL;
    CREATE INDEX approvals_expiry ON approvals(expires_at) WHERE status = 'pending';
    """,
    # 3 -> 4: faster per-goal step counts (goal list, settling).
    """
    CREATE INDEX steps_goal_version ON steps(goal_id, plan_version, status);
    """,
    # 4 -> 5: "always allow" binds a rule to the content of the files its command runs.
    """
    ALTER TABLE rules ADD COLUMN bound TEXT;
    """,
    # 5 -> 6: checkpoints of workspaces around side-effecting actions, and undo.
    """
    CREATE TABLE checkpoints (
        id INTEGER PRIMARY KEY,
        goal_id INTEGER NOT NULL REFERENCES goals(id) ON DELETE CASCADE,
        step_id INTEGER REFERENCES steps(id) ON DELETE SET NULL,
        action_id INTEGER REFERENCES actions(id) ON DELETE SET NULL,
        kind TEXT NOT NULL,                -- action | undo
        workspace TEXT NOT NULL,
        before TEXT NOT NULL,              -- commits in the workspace's shadow repository
        after TEXT NOT NULL,
        files INTEGER NOT NULL DEFAULT 0,
        added INTEGER NOT NULL DEFAULT 0,
        removed INTEGER NOT NULL DEFAULT 0,
        changes TEXT NOT NULL,             -- JSON: files (path, status, +/-, binary, size), skipped
        diff TEXT,
        undone_by INTEGER REFERENCES checkpoints(id) ON DELETE SET NULL,
        pruned_at REAL,                    -- snapshots removed: the record stays, undo cannot
        created_at REAL NOT NULL
    );
    CREATE INDEX checkpoints_goal ON checkpoints(goal_id, id);
    CREATE INDEX checkpoints_action ON checkpoints(action_id);
    CREATE INDEX checkpoints_step ON checkpoints(step_id);
    """,
    # 6 -> 7: token counts that are litellm's estimate (the provider reported no usage).
    """
    ALTER TABLE usage ADD COLUMN estimated INTEGER NOT NULL DEFAULT 0;
    """,
    # 7 -> 8: the process a command runs in (host, pid, start time), so an interrupted action
    # whose command outlived its executor is told apart from one that is gone.
    """
    ALTER TABLE actions ADD COLUMN process TEXT;
    """,
    # 8 -> 9: indexes for every query of the panes, `ls` and `show` (none scans steps, actions or
    # events), and for retention, which walks finished goals in the order they finished.
    """
    CREATE INDEX actions_goal ON actions(goal_id, id);
    CREATE INDEX approvals_goal ON approvals(goal_id);
    CREATE INDEX goals_listed ON goals(archived);
    CREATE INDEX goals_finished ON goals(finished_at) WHERE finished_at IS NOT NULL;
    """,
    # 9 -> 10: workers on several hosts: a goal's label and the host its workspace is on, and
    # each worker's labels.
    """
    ALTER TABLE goals ADD COLUMN runs_on TEXT;
    ALTER TABLE goals ADD COLUMN host TEXT;
    ALTER TABLE workers ADD COLUMN labels TEXT;
    """,
    # 10 -> 11: whether a worker sees every host's workspaces (it may take a goal pinned to
    # another host), so a viewer can tell which goals no live worker may take; and where an
    # action's whole output is (a log file on the host that ran it).
    """
    ALTER TABLE workers ADD COLUMN shared_workspaces INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE actions ADD COLUMN output_host TEXT;
    ALTER TABLE actions ADD COLUMN output_log TEXT;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
