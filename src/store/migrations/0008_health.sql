-- The newest provider and target health check of any process, so that every process of a
-- deployment (a `serve` runs no health-check job itself) reports what was last checked.
CREATE TABLE health_snapshot (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at INTEGER NOT NULL,
    body TEXT NOT NULL
);
