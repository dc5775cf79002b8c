-- Shared by every blogflow script. The data layout is BullMQ's (v5): the same keys, job hash
-- fields and events, so Node BullMQ producers, workers and dashboards see the same queue.
-- Every script gets the same KEYS and ARGV[1] = job key prefix ("<prefix>:<queue>:"),
-- ARGV[2] = now in ms (from the caller's clock: scripts never read Redis time, so a test
-- clock moves delays and backoff; lock expiry is Redis's own PX).
local rcall = redis.call
local K_WAIT, K_ACTIVE, K_PRIO, K_DELAYED = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local K_COMPLETED, K_FAILED, K_STALLED, K_META = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local K_EVENTS, K_MARKER, K_PC, K_ID, K_PAUSED = KEYS[9], KEYS[10], KEYS[11], KEYS[12], KEYS[13]
local PREFIX = ARGV[1]
local NOW = tonumber(ARGV[2])
-- Delayed scores are ms * 0x1000 (BullMQ keeps 12 bits for an ordering counter).
local DUE = (NOW + 1) * 0x1000 - 1

local function event(name, id, ...)
  rcall("XADD", K_EVENTS, "MAXLEN", "~", 10000, "*", "event", name, "jobId", id, ...)
end

local function is_paused()
  return rcall("HEXISTS", K_META, "paused") == 1
end

-- Wakes BullMQ workers blocked on the marker set.
local function mark_ready()
  if not is_paused() then rcall("ZADD", K_MARKER, 0, "0") end
end

local function enqueue_ready(id, priority, front)
  if priority > 0 then
    local c = rcall("INCR", K_PC)
    rcall("ZADD", K_PRIO, priority * 0x100000000 + c % 0x100000000, id)
  elseif front then
    rcall("RPUSH", K_WAIT, id)
  else
    rcall("LPUSH", K_WAIT, id)
  end
  mark_ready()
end

local function enqueue_delayed(id, run_at)
  rcall("ZADD", K_DELAYED, run_at * 0x1000, id)
  rcall("HSET", PREFIX .. id, "delay", run_at - NOW)
  local first = rcall("ZRANGE", K_DELAYED, 0, 0, "WITHSCORES")
  rcall("ZADD", K_MARKER, math.floor(tonumber(first[2]) / 0x1000), "1")
end

local function priority_of(id)
  return tonumber(rcall("HGET", PREFIX .. id, "priority")) or 0
end

-- Delayed jobs whose time has come become ready (at most 1000 per call, like BullMQ).
local function promote_due()
  local due = rcall("ZRANGEBYSCORE", K_DELAYED, 0, DUE, "LIMIT", 0, 1000)
  for _, id in ipairs(due) do
    rcall("ZREM", K_DELAYED, id)
    rcall("HSET", PREFIX .. id, "delay", 0)
    enqueue_ready(id, priority_of(id), false)
    event("waiting", id, "prev", "delayed")
  end
end

local function holds(id, token)
  return rcall("GET", PREFIX .. id .. ":lock") == token
end

local function drop_lock(id)
  rcall("DEL", PREFIX .. id .. ":lock")
  rcall("SREM", K_STALLED, id)
end

local function decode_opts(id)
  local raw = rcall("HGET", PREFIX .. id, "opts")
  if not raw then return {} end
  local ok, opts = pcall(cjson.decode, raw)
  if ok and type(opts) == "table" then return opts end
  return {}
end

-- Moves up to `max` ready jobs to active under lock `token` for `lock_ms` (the caller has
-- promoted due delayed jobs and checked for pause). {id, name, data, opts, atm, priority} each.
-- With `remark`, sets the marker when work is left so that other idle workers wake.
local function claim_jobs(token, lock_ms, max, remark)
  local out = {}
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
    local f = rcall("HMGET", key, "name", "data", "opts", "atm", "priority")
    if not f[1] then
      -- removed behind the list's back; drop the orphan id
      rcall("LREM", K_ACTIVE, 1, id)
    else
      rcall("SET", key .. ":lock", token, "PX", lock_ms)
      rcall("HSET", key, "processedOn", NOW)
      rcall("HINCRBY", key, "ats", 1)
      event("active", id, "prev", "waiting")
      out[#out + 1] = {id, f[1], f[2] or "null", f[3] or "{}", f[4] or "0", f[5] or "0"}
    end
  end
  -- More work left: wake the other workers (the caller checked that the queue is not paused).
  if remark and (rcall("LLEN", K_WAIT) > 0 or rcall("ZCARD", K_PRIO) > 0) then
    rcall("ZADD", K_MARKER, 0, "0")
  end
  return out
end
