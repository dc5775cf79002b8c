-- The embedded queue. Times are ms since the Unix epoch.
CREATE TABLE queue_jobs (
    seq              INTEGER PRIMARY KEY,          -- insertion order: FIFO within a priority
    queue            TEXT    NOT NULL,
    id               TEXT    NOT NULL,
    name             TEXT    NOT NULL,
    payload          TEXT    NOT NULL,
    state            TEXT    NOT NULL CHECK (state IN ('waiting','delayed','active','completed','failed')),
    priority         INTEGER NOT NULL,
    run_at           INTEGER NOT NULL,             -- not claimable before
    max_attempts     INTEGER NOT NULL,
    backoff          TEXT    NOT NULL,             -- JSON of queue::Backoff
    attempts_started INTEGER NOT NULL DEFAULT 0,
    attempts_made    INTEGER NOT NULL DEFAULT 0,   -- failed attempts
    stalled_count    INTEGER NOT NULL DEFAULT 0,
    lock_token       TEXT,
    lock_until       INTEGER,
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER,
    last_error       TEXT,
    result           TEXT,
    UNIQUE (queue, id)
);
CREATE INDEX queue_jobs_ready ON queue_jobs (queue, priority, run_at, seq)
    WHERE state IN ('waiting', 'delayed');
CREATE INDEX queue_jobs_active ON queue_jobs (queue, lock_until) WHERE state = 'active';
CREATE INDEX queue_jobs_finished ON queue_jobs (queue, state, finished_at)
    WHERE state IN ('completed', 'failed');

CREATE TABLE queue_meta (
    queue  TEXT PRIMARY KEY,
    paused INTEGER NOT NULL DEFAULT 0
);
