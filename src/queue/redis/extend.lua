-- ARGV[3] = lock ms, then (id, token) pairs. Returns 1 per lock still held (and extended).
local out = {}
for i = 4, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  if holds(id, token) then
    rcall("SET", PREFIX .. id .. ":lock", token, "PX", ARGV[3])
    rcall("SREM", K_STALLED, id)
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
