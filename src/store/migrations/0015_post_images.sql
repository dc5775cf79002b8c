-- A post's generated feature image (`[images.generate]`), asked for once per post when it is
-- first published: the PNG, or why there is none (the social card stands in), and what it
-- cost (also added to the post's cost_usd).
CREATE TABLE post_images (
    post_id    TEXT PRIMARY KEY REFERENCES posts (id),
    png        BLOB,
    provider   TEXT    NOT NULL,
    model      TEXT    NOT NULL,
    cost_usd   REAL    NOT NULL,
    error      TEXT,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
