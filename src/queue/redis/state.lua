-- The state of job `id` as blogflow names it, or nil when it has none.
local function state_of(id)
  if rcall("ZSCORE", K_COMPLETED, id) then return "completed" end
  if rcall("ZSCORE", K_FAILED, id) then return "failed" end
  local d = rcall("ZSCORE", K_DELAYED, id)
  if d then
    if tonumber(d) <= DUE then return "waiting" end
    return "delayed"
  end
  if rcall("ZSCORE", K_PRIO, id) then return "waiting" end
  if rcall("LPOS", K_ACTIVE, id) then return "active" end
  if rcall("LPOS", K_WAIT, id) or rcall("LPOS", K_PAUSED, id) then return "waiting" end
  return nil
end

local function record(id)
  local fields = rcall("HGETALL", PREFIX .. id)
  if #fields == 0 then return nil end
  local d = rcall("ZSCORE", K_DELAYED, id)
  local run_at = d and math.floor(tonumber(d) / 0x1000) or -1
  return {id, state_of(id) or "unknown", fields, run_at}
end
