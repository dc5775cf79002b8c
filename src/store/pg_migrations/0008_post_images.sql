-- A post's generated feature image (see the SQLite migration 0015).
CREATE TABLE post_images (
    post_id    TEXT PRIMARY KEY REFERENCES posts (id),
    png        BYTEA,
    provider   TEXT             NOT NULL,
    model      TEXT             NOT NULL,
    cost_usd   DOUBLE PRECISION NOT NULL,
    error      TEXT,
    created_at BIGINT           NOT NULL
);
