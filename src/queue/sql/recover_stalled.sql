-- Jobs whose lease expired go back to waiting at their old place in line (their run_at is
-- unchanged), or fail once they stalled more than :max_stalled times.
UPDATE queue_jobs
SET state = CASE WHEN stalled_count + 1 > :max_stalled THEN 'failed' ELSE 'waiting' END,
    finished_at = CASE WHEN stalled_count + 1 > :max_stalled THEN :now ELSE NULL END,
    last_error = CASE WHEN stalled_count + 1 > :max_stalled
        THEN 'job stalled more than ' || :max_stalled || ' times (its worker died or hung)'
        ELSE last_error END,
    stalled_count = stalled_count + 1,
    lock_token = NULL,
    lock_until = NULL
WHERE queue = :queue AND state = 'active' AND lock_until < :now
RETURNING id, state
