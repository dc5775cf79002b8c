-- Processes of a cluster (`run`, `serve`, `worker`) and what they run, refreshed by heartbeats.
CREATE TABLE workers (
    id TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    beat_at INTEGER NOT NULL,
    in_flight TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX workers_beat ON workers (beat_at);
