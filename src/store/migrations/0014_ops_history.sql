-- What the operator was told, kept across restarts: every alert that went out (raise or
-- resolve) and every recovery action taken, as JSON, newest read first. Pruned with the
-- daily cleanup. Also the dashboard's sessions, so that a restart does not log anyone out:
-- only a hash of the session id is stored, so a copy of the database opens no session.
CREATE TABLE ops_log (
    id   INTEGER PRIMARY KEY,
    kind TEXT    NOT NULL CHECK (kind IN ('alert', 'recovery')),
    at   INTEGER NOT NULL,
    body TEXT    NOT NULL
);
CREATE INDEX ops_log_kind_at ON ops_log (kind, at DESC);

CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    csrf       TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
