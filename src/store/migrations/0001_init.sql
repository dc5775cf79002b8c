-- Topics, posts, publications and runs. Times are ms since the Unix epoch.

-- Keyword rotation: the least recently used keyword is written about next.
CREATE TABLE keyword_usage (
    keyword      TEXT PRIMARY KEY,
    uses         INTEGER NOT NULL DEFAULT 0,
    last_used_at INTEGER NOT NULL DEFAULT 0
);

-- Every topic ever written about, for deduplication and history.
CREATE TABLE topics (
    id         INTEGER PRIMARY KEY,
    title      TEXT    NOT NULL,
    normalized TEXT    NOT NULL,
    source     TEXT    NOT NULL CHECK (source IN ('keyword', 'manual')),
    keyword    TEXT,
    post_id    TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX topics_normalized ON topics (normalized);

-- One row per generated post. (job_id, slot) makes generation idempotent: a retried job
-- finds the posts it already wrote.
CREATE TABLE posts (
    id              TEXT PRIMARY KEY,
    job_id          TEXT    NOT NULL,
    slot            INTEGER NOT NULL,
    topic           TEXT    NOT NULL,
    keyword         TEXT,
    category        TEXT    NOT NULL,
    language        TEXT    NOT NULL,
    title           TEXT    NOT NULL,
    slug            TEXT    NOT NULL UNIQUE,
    summary         TEXT    NOT NULL,
    tags            TEXT    NOT NULL,   -- JSON list
    seo_title       TEXT    NOT NULL,
    seo_description TEXT    NOT NULL,
    seo_keywords    TEXT    NOT NULL,   -- JSON list
    body            TEXT    NOT NULL,
    quality_score   INTEGER NOT NULL,
    quality         TEXT    NOT NULL,   -- JSON QualityReport
    status          TEXT    NOT NULL CHECK (status IN ('ready', 'held', 'published')),
    provider        TEXT    NOT NULL,
    model           TEXT    NOT NULL,
    input_tokens    INTEGER NOT NULL,
    output_tokens   INTEGER NOT NULL,
    cost_usd        REAL    NOT NULL,
    generation_ms   INTEGER NOT NULL,
    attempts        INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    published_at    INTEGER,
    UNIQUE (job_id, slot)
);
CREATE INDEX posts_created ON posts (created_at DESC);
CREATE INDEX posts_keyword ON posts (keyword, created_at DESC);

-- The publication ledger: a (post, target) row exists once the target holds the post.
CREATE TABLE publications (
    post_id      TEXT    NOT NULL REFERENCES posts (id),
    target       TEXT    NOT NULL,
    location     TEXT    NOT NULL,
    published_at INTEGER NOT NULL,
    PRIMARY KEY (post_id, target)
);

-- One row per job execution, for the API and the dashboard.
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    job_id      TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    attempt     INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    status      TEXT    NOT NULL CHECK (status IN ('running', 'succeeded', 'partial', 'failed')),
    requested   INTEGER NOT NULL DEFAULT 0,
    generated   INTEGER NOT NULL DEFAULT 0,
    held        INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    error       TEXT
);
CREATE INDEX runs_started ON runs (started_at DESC);
