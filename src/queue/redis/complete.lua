-- ARGV[3] = id, ARGV[4] = token, ARGV[5] = JSON result; with ARGV[6] = "1", also claims the
-- next ready job with token ARGV[7] for ARGV[8] ms, in the same step (BullMQ's fetch-next:
-- one round trip per job for a busy worker; a busy worker does not re-set the marker: the
-- adds and the batch claims of idle workers do). Returns {0, jobs}, or {-2, {}} when the lock is
-- not held.
local id = ARGV[3]
if not holds(id, ARGV[4]) or rcall("LREM", K_ACTIVE, 1, id) == 0 then return {-2, {}} end
drop_lock(id)
local key = PREFIX .. id
rcall("ZADD", K_COMPLETED, NOW, id)
rcall("HSET", key, "returnvalue", ARGV[5], "finishedOn", NOW)
rcall("HINCRBY", key, "atm", 1)
event("completed", id, "returnvalue", ARGV[5], "prev", "active")
if ARGV[6] == "1" then
  promote_due()
  if not is_paused() then return {0, claim_jobs(ARGV[7], ARGV[8], 1, false)} end
end
return {0, {}}
