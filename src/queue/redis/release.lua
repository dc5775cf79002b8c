-- ARGV[3] = id, ARGV[4] = token. Hands the job back to the front of the queue without
-- counting a start. 0, or -2 when the lock is not held.
local id = ARGV[3]
if not holds(id, ARGV[4]) or rcall("LREM", K_ACTIVE, 1, id) == 0 then return -2 end
drop_lock(id)
rcall("HINCRBY", PREFIX .. id, "ats", -1)
enqueue_ready(id, priority_of(id), true)
event("waiting", id, "prev", "active")
return 0
