-- Monitoring history: one JSON sample per interval (resolution 0) and five-minute means
-- (resolution 300000, keyed by the bucket start). Times are ms since the Unix epoch.
CREATE TABLE metric_samples (
    resolution INTEGER NOT NULL,
    ts         INTEGER NOT NULL,
    sample     TEXT    NOT NULL,
    PRIMARY KEY (resolution, ts)
) WITHOUT ROWID;
