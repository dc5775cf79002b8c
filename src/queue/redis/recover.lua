-- ARGV[3] = max stalls. Active jobs whose lock expired go back to the front of the queue, or
-- to failed once stalled more than ARGV[3] times. Returns {id, requeued 1|0} per job.
local max = tonumber(ARGV[3])
local out = {}
for _, id in ipairs(rcall("LRANGE", K_ACTIVE, 0, -1)) do
  local key = PREFIX .. id
  if rcall("EXISTS", key .. ":lock") == 0 then
    rcall("LREM", K_ACTIVE, 1, id)
    rcall("SREM", K_STALLED, id)
    if rcall("EXISTS", key) == 1 then
      local stalls = rcall("HINCRBY", key, "stc", 1)
      event("stalled", id)
      if stalls > max then
        local reason = "job stalled more than allowable limit"
        rcall("ZADD", K_FAILED, NOW, id)
        rcall("HSET", key, "failedReason", reason, "finishedOn", NOW)
        event("failed", id, "failedReason", reason, "prev", "active")
        out[#out + 1] = {id, 0}
      else
        enqueue_ready(id, priority_of(id), true)
        event("waiting", id, "prev", "stalled")
        out[#out + 1] = {id, 1}
      end
    end
  end
end
return out
