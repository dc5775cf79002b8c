-- ARGV[3] = id. Moves a failed job back to waiting with fresh attempts.
-- "ok", "missing", or the state it is in.
local id = ARGV[3]
local key = PREFIX .. id
if rcall("EXISTS", key) == 0 then return "missing" end
if rcall("ZREM", K_FAILED, id) == 0 then return state_of(id) or "unknown" end
rcall("HDEL", key, "finishedOn", "failedReason", "processedOn", "returnvalue")
rcall("HSET", key, "atm", 0, "ats", 0, "stc", 0)
enqueue_ready(id, priority_of(id), false)
event("waiting", id, "prev", "failed")
return "ok"
