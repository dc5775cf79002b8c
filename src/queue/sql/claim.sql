-- Claim up to :max ready jobs in one statement: best priority, then oldest run_at, then FIFO.
UPDATE queue_jobs
SET state = 'active',
    lock_token = :token,
    lock_until = :until,
    attempts_started = attempts_started + 1,
    started_at = :now
WHERE seq IN (
    SELECT seq FROM queue_jobs
    WHERE queue = :queue AND state IN ('waiting', 'delayed') AND run_at <= :now
    ORDER BY priority, run_at, seq
    LIMIT :max
)
AND NOT EXISTS (SELECT 1 FROM queue_meta WHERE queue = :queue AND paused = 1)
RETURNING seq, id, name, payload, priority, run_at, attempts_made, max_attempts
