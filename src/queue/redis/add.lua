-- ARGV[3] = caller-given id or "", [4] = name, [5] = data JSON, [6] = opts JSON, [7] = delay ms,
-- [8] = priority. Returns {1, id} when added, {0, id} when a job with that id exists.
local counter = rcall("INCR", K_ID)
local id = ARGV[3]
if id == "" then id = tostring(counter) end
local key = PREFIX .. id
if rcall("EXISTS", key) == 1 then
  event("duplicated", id)
  return {0, id}
end
local delay, priority = tonumber(ARGV[7]), tonumber(ARGV[8])
rcall("HSET", key, "name", ARGV[4], "data", ARGV[5], "opts", ARGV[6], "timestamp", NOW,
  "delay", delay, "priority", priority)
event("added", id, "name", ARGV[4])
if delay > 0 then
  enqueue_delayed(id, NOW + delay)
  event("delayed", id, "delay", NOW + delay)
else
  enqueue_ready(id, priority, false)
  event("waiting", id)
end
return {1, id}
