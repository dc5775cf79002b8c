-- ARGV[3] = id, ARGV[4] = token, ARGV[5] = message, ARGV[6] = "never" | "backoff" | "after" |
-- "wait" (a dependency is not ready: delayed by ARGV[7] ms, no attempt spent),
-- ARGV[7] = retry-after ms, ARGV[8] = uniform random in [0, 1) for jitter.
-- Returns {1, run_at} when a retry follows, {0} when the job failed for good, {-2} when the
-- lock is not held. The backoff follows the job's BullMQ options (`attempts`, `backoff.type`
-- fixed|exponential, `backoff.delay`, `backoff.jitter`, and blogflow's `backoff.maxDelay`), so
-- jobs added by Node producers retry as they would under a Node worker.
local id, mode = ARGV[3], ARGV[6]
if not holds(id, ARGV[4]) or rcall("LREM", K_ACTIVE, 1, id) == 0 then return {-2} end
drop_lock(id)
local key = PREFIX .. id
if mode == "wait" then
  local delay = tonumber(ARGV[7])
  rcall("HSET", key, "failedReason", ARGV[5])
  enqueue_delayed(id, NOW + delay)
  event("delayed", id, "delay", NOW + delay)
  return {1, NOW + delay}
end
local made = rcall("HINCRBY", key, "atm", 1)
rcall("HSET", key, "failedReason", ARGV[5])
local opts = decode_opts(id)
local attempts = math.max(tonumber(opts.attempts) or 1, 1)
local delay = nil
if mode ~= "never" and made < attempts then
  if mode == "after" then
    delay = tonumber(ARGV[7])
  else
    local b = opts.backoff
    if type(b) == "number" then b = {type = "fixed", delay = b} end
    if type(b) ~= "table" then b = {} end
    local base = tonumber(b.delay) or 0
    if b.type == "exponential" then
      delay = base * 2 ^ math.min(made - 1, 40)
      local cap = tonumber(b.maxDelay)
      if cap and delay > cap then delay = cap end
    else
      delay = base
    end
    local jitter = tonumber(b.jitter) or 0
    jitter = math.min(math.max(jitter, 0), 1) * tonumber(ARGV[8])
    delay = math.floor(delay * (1 - jitter))
  end
end
if delay == nil then
  rcall("ZADD", K_FAILED, NOW, id)
  rcall("HSET", key, "finishedOn", NOW)
  event("failed", id, "failedReason", ARGV[5], "prev", "active")
  return {0}
end
event("retrying", id, "failedReason", ARGV[5], "prev", "active", "delay", delay)
if delay > 0 then
  enqueue_delayed(id, NOW + delay)
  event("delayed", id, "delay", NOW + delay)
else
  enqueue_ready(id, priority_of(id), false)
  event("waiting", id, "prev", "failed")
end
return {1, NOW + delay}
