-- A rejected post is its own state: never published, out of the review queue, and shown as
-- such (before, it stayed `held` with a note). A near-duplicate names the post it repeats in
-- `duplicate_of`, so the dashboard can link to it. SQLite cannot change a CHECK constraint, so
-- the table is rebuilt (the migration runs with foreign keys off and checks them before its
-- commit).
CREATE TABLE posts_new (
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
    tags            TEXT    NOT NULL,
    seo_title       TEXT    NOT NULL,
    seo_description TEXT    NOT NULL,
    seo_keywords    TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    quality_score   INTEGER NOT NULL,
    quality         TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('ready', 'held', 'published', 'rejected')),
    provider        TEXT    NOT NULL,
    model           TEXT    NOT NULL,
    input_tokens    INTEGER NOT NULL,
    output_tokens   INTEGER NOT NULL,
    cost_usd        REAL    NOT NULL,
    generation_ms   INTEGER NOT NULL,
    attempts        INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    published_at    INTEGER,
    hold_reason     TEXT,
    provenance      TEXT    NOT NULL DEFAULT '{}',
    duplicate_of    TEXT,
    UNIQUE (job_id, slot)
);
INSERT INTO posts_new (id, job_id, slot, topic, keyword, category, language, title, slug, summary, tags,
    seo_title, seo_description, seo_keywords, body, quality_score, quality, status, provider, model,
    input_tokens, output_tokens, cost_usd, generation_ms, attempts, created_at, published_at, hold_reason,
    provenance)
SELECT id, job_id, slot, topic, keyword, category, language, title, slug, summary, tags,
    seo_title, seo_description, seo_keywords, body, quality_score, quality,
    CASE WHEN status = 'held' AND EXISTS (SELECT 1 FROM reviews r WHERE r.post_id = posts.id AND r.state = 'rejected')
         THEN 'rejected' ELSE status END,
    provider, model, input_tokens, output_tokens, cost_usd, generation_ms, attempts, created_at, published_at,
    hold_reason, provenance
FROM posts;
DROP TABLE posts;
ALTER TABLE posts_new RENAME TO posts;
CREATE INDEX posts_created ON posts (created_at DESC);
CREATE INDEX posts_keyword ON posts (keyword, created_at DESC);
