-- ARGV[3] = "paused" | "resumed". Same meta flag and marker handling as BullMQ's pause.
if ARGV[3] == "paused" then
  rcall("HSET", K_META, "paused", 1)
  rcall("DEL", K_MARKER)
else
  rcall("HDEL", K_META, "paused")
  -- jobs parked in the legacy paused list by an older BullMQ
  while rcall("LLEN", K_PAUSED) > 0 do
    rcall("RPOPLPUSH", K_PAUSED, K_WAIT)
  end
  if rcall("LLEN", K_WAIT) + rcall("ZCARD", K_PRIO) > 0 then mark_ready() end
end
rcall("XADD", K_EVENTS, "MAXLEN", "~", 10000, "*", "event", ARGV[3])
return 0
