-- Claims up to ARGV[5] ready jobs with lock token ARGV[3] for ARGV[4] ms.
-- Returns {id, name, data, opts, attemptsMade, priority} per job.
promote_due()
if is_paused() then return {} end
return claim_jobs(ARGV[3], ARGV[4], tonumber(ARGV[5]), true)
