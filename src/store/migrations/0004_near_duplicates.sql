-- Near-duplicate detection of finished posts: a MinHash signature of each body, indexed by
-- LSH bands; a post too similar to an earlier one is held with the reason.
ALTER TABLE posts ADD COLUMN hold_reason TEXT;

CREATE TABLE post_signatures (
    post_id   TEXT PRIMARY KEY REFERENCES posts (id),
    signature BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE post_bands (
    band    INTEGER NOT NULL,
    post_id TEXT    NOT NULL,
    PRIMARY KEY (band, post_id)
) WITHOUT ROWID;
