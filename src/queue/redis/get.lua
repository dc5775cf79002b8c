-- ARGV[3] = id. {id, state, HGETALL} or nil.
return record(ARGV[3])
