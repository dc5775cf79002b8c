-- ARGV[3] = n, then n triples (id, token, JSON result), then want, token, lock ms.
-- Completes each job whose lock is held, then claims up to `want` ready jobs under the new
-- token, in one step: a worker whose jobs finish together pays one round trip for all.
-- Returns {codes (0 completed, -2 lock not held), claimed jobs}.
local n = tonumber(ARGV[3])
local codes = {}
for i = 0, n - 1 do
  local id, token, result = ARGV[4 + 3 * i], ARGV[5 + 3 * i], ARGV[6 + 3 * i]
  if holds(id, token) and rcall("LREM", K_ACTIVE, 1, id) == 1 then
    drop_lock(id)
    local key = PREFIX .. id
    rcall("ZADD", K_COMPLETED, NOW, id)
    rcall("HSET", key, "returnvalue", result, "finishedOn", NOW)
    rcall("HINCRBY", key, "atm", 1)
    event("completed", id, "returnvalue", result, "prev", "active")
    codes[#codes + 1] = 0
  else
    codes[#codes + 1] = -2
  end
end
local at = 4 + 3 * n
local want = tonumber(ARGV[at])
if want > 0 then
  promote_due()
  if not is_paused() then
    return {codes, claim_jobs(ARGV[at + 1], ARGV[at + 2], want, false)}
  end
end
return {codes, {}}
