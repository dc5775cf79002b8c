-- The articles behind topics, as fetched and extracted: one row per URL asked for, so a
-- retried post reads the same text and a source is not fetched again for every post.
CREATE TABLE sources (
    url          TEXT PRIMARY KEY,
    final_url    TEXT    NOT NULL,
    title        TEXT    NOT NULL,
    fetched_at   INTEGER NOT NULL,
    content_hash TEXT    NOT NULL,
    text         TEXT    NOT NULL
);
