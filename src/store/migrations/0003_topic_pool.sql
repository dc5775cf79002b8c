-- The topic pool: every candidate topic ever seen (feeds, manual queue), never deleted, so an
-- item is never picked twice. `cluster` groups the same story from several sources (the id of
-- its first member); `topic_bands` indexes MinHash bands of normalized titles.
CREATE TABLE topic_pool (
    id           INTEGER PRIMARY KEY,
    source       TEXT    NOT NULL,
    category     TEXT    NOT NULL,
    guid         TEXT,
    url          TEXT,
    title        TEXT    NOT NULL,
    summary      TEXT    NOT NULL DEFAULT '',
    published_at INTEGER NOT NULL,
    added_at     INTEGER NOT NULL,
    weight       REAL    NOT NULL DEFAULT 1,
    manual       INTEGER NOT NULL DEFAULT 0,
    cluster      INTEGER NOT NULL DEFAULT 0,
    status       TEXT    NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'picked', 'skipped')),
    picked_at    INTEGER,
    signature    BLOB    NOT NULL
);
CREATE UNIQUE INDEX topic_pool_url ON topic_pool (url) WHERE url IS NOT NULL;
CREATE UNIQUE INDEX topic_pool_guid ON topic_pool (guid) WHERE guid IS NOT NULL;
CREATE INDEX topic_pool_new ON topic_pool (status, category, published_at DESC);
CREATE INDEX topic_pool_cluster ON topic_pool (cluster);

CREATE TABLE topic_bands (
    band  INTEGER NOT NULL,
    topic INTEGER NOT NULL,
    PRIMARY KEY (band, topic)
) WITHOUT ROWID;

-- Conditional GET state and the last outcome of each feed.
CREATE TABLE feed_state (
    url             TEXT PRIMARY KEY,
    name            TEXT    NOT NULL,
    etag            TEXT,
    last_modified   TEXT,
    last_fetched_at INTEGER NOT NULL DEFAULT 0,
    last_status     TEXT    NOT NULL DEFAULT 'never',
    last_error      TEXT,
    items_added     INTEGER NOT NULL DEFAULT 0
);

-- Topics written about may now come from feeds.
CREATE TABLE topics_v2 (
    id         INTEGER PRIMARY KEY,
    title      TEXT    NOT NULL,
    normalized TEXT    NOT NULL,
    source     TEXT    NOT NULL CHECK (source IN ('keyword', 'manual', 'feed')),
    keyword    TEXT,
    post_id    TEXT,
    created_at INTEGER NOT NULL
);
INSERT INTO topics_v2 SELECT id, title, normalized, source, keyword, post_id, created_at FROM topics;
DROP TABLE topics;
ALTER TABLE topics_v2 RENAME TO topics;
CREATE INDEX topics_normalized ON topics (normalized);
