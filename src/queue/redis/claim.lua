-- Claims up to ARGV[5] ready jobs with lock token ARGV[3] for ARGV[4] ms.
-- Returns {id, name, data, opts, attemptsMade, priority} per job.
promote_due()
if is_paused() then return {} end
local out = {}
local max = tonumber(ARGV[5])
while #out < max do
  local id = rcall("RPOPLPUSH", K_WAIT, K_ACTIVE)
  if id and string.sub(id, 1, 2) == "0:" then
    -- a BullMQ v4 marker left in the wait list
    rcall("LREM", K_ACTIVE, 1, id)
    id = rcall("RPOPLPUSH", K_WAIT, K_ACTIVE)
  end
  if not id then
    local p = rcall("ZPOPMIN", K_PRIO)
    if #p == 0 then break end
    id = p[1]
    rcall("LPUSH", K_ACTIVE, id)
  end
  local key = PREFIX .. id
  if rcall("EXISTS", key) == 0 then
    -- removed behind the list's back; drop the orphan id
    rcall("LREM", K_ACTIVE, 1, id)
  else
    rcall("SET", key .. ":lock", ARGV[3], "PX", ARGV[4])
    rcall("HSET", key, "processedOn", NOW)
    rcall("HINCRBY", key, "ats", 1)
    event("active", id, "prev", "waiting")
    local f = rcall("HMGET", key, "name", "data", "opts", "atm", "priority")
    out[#out + 1] = {id, f[1] or "", f[2] or "null", f[3] or "{}", f[4] or "0", f[5] or "0"}
  end
end
if rcall("LLEN", K_WAIT) + rcall("ZCARD", K_PRIO) > 0 then mark_ready() end
return out
