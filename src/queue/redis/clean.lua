-- ARGV[3..4] = keep, max age ms of completed jobs; ARGV[5..6] the same for failed ones;
-- ARGV[7] = most jobs removed per call. Returns how many were removed.
local budget = tonumber(ARGV[7])
local removed = 0
local function trim(set, keep, max_age)
  local victims = rcall("ZRANGEBYSCORE", set, 0, "(" .. (NOW - max_age), "LIMIT", 0, budget - removed)
  local left = rcall("ZCARD", set) - #victims
  if left > keep and #victims < budget - removed then
    local more = math.min(left - keep, budget - removed - #victims)
    for _, id in ipairs(rcall("ZRANGE", set, #victims, #victims + more - 1)) do
      victims[#victims + 1] = id
    end
  end
  for _, id in ipairs(victims) do
    local key = PREFIX .. id
    rcall("ZREM", set, id)
    rcall("DEL", key, key .. ":logs")
    removed = removed + 1
  end
end
trim(K_COMPLETED, tonumber(ARGV[3]), tonumber(ARGV[4]))
trim(K_FAILED, tonumber(ARGV[5]), tonumber(ARGV[6]))
return removed
