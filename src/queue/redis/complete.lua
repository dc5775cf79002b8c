-- ARGV[3] = id, ARGV[4] = token, ARGV[5] = JSON result. 0, or -2 when the lock is not held.
local id = ARGV[3]
if not holds(id, ARGV[4]) or rcall("LREM", K_ACTIVE, 1, id) == 0 then return -2 end
drop_lock(id)
local key = PREFIX .. id
rcall("ZADD", K_COMPLETED, NOW, id)
rcall("HSET", key, "returnvalue", ARGV[5], "finishedOn", NOW)
rcall("HINCRBY", key, "atm", 1)
event("completed", id, "returnvalue", ARGV[5], "prev", "active")
return 0
