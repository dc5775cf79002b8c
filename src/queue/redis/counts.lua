-- {waiting, delayed, active, completed, failed}; delayed jobs that are due count as waiting.
local due = rcall("ZCOUNT", K_DELAYED, 0, DUE)
return {
  rcall("LLEN", K_WAIT) + rcall("LLEN", K_PAUSED) + rcall("ZCARD", K_PRIO) + due,
  rcall("ZCARD", K_DELAYED) - due,
  rcall("LLEN", K_ACTIVE),
  rcall("ZCARD", K_COMPLETED),
  rcall("ZCARD", K_FAILED),
}
