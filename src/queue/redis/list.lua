-- ARGV[3] = state, ARGV[4] = limit. Records, newest first.
local state, limit = ARGV[3], tonumber(ARGV[4])
local ids = {}
local function take(list)
  for _, id in ipairs(list) do
    if #ids >= limit then return end
    ids[#ids + 1] = id
  end
end
if state == "completed" then
  take(rcall("ZREVRANGE", K_COMPLETED, 0, limit - 1))
elseif state == "failed" then
  take(rcall("ZREVRANGE", K_FAILED, 0, limit - 1))
elseif state == "active" then
  take(rcall("LRANGE", K_ACTIVE, 0, limit - 1))
elseif state == "delayed" then
  take(rcall("ZREVRANGEBYSCORE", K_DELAYED, "+inf", "(" .. DUE, "LIMIT", 0, limit))
else
  take(rcall("ZREVRANGEBYSCORE", K_DELAYED, DUE, 0, "LIMIT", 0, limit))
  take(rcall("LRANGE", K_WAIT, 0, limit - 1))
  take(rcall("LRANGE", K_PAUSED, 0, limit - 1))
  take(rcall("ZREVRANGE", K_PRIO, 0, limit - 1))
end
local out = {}
for _, id in ipairs(ids) do
  local r = record(id)
  if r then out[#out + 1] = r end
end
return out
