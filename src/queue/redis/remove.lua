-- ARGV[3] = id. 1 removed, 0 missing, -1 active (refused).
local id = ARGV[3]
local key = PREFIX .. id
if rcall("LPOS", K_ACTIVE, id) then return -1 end
if rcall("EXISTS", key) == 0 then return 0 end
rcall("LREM", K_WAIT, 0, id)
rcall("LREM", K_PAUSED, 0, id)
for _, set in ipairs({K_PRIO, K_DELAYED, K_COMPLETED, K_FAILED}) do rcall("ZREM", set, id) end
rcall("SREM", K_STALLED, id)
rcall("DEL", key, key .. ":lock", key .. ":logs")
event("removed", id, "prev", "unknown")
return 1
