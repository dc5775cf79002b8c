-- Review decisions on held posts (held for quality, as near-duplicates, or because every post
-- waits for review in `publish.mode = review`).
CREATE TABLE reviews (
    post_id    TEXT PRIMARY KEY REFERENCES posts (id),
    state      TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected')),
    decided_at INTEGER,
    note       TEXT
) WITHOUT ROWID;
CREATE INDEX reviews_pending ON reviews (state);
