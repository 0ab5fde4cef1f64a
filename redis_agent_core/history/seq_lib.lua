-- A session with messages whose meta hash has no seq lost the hash (evicted): its
-- numbers restart above every old one (the server's clock in microseconds, which no
-- message count reaches), so new recall entries, keyed by seq, never overwrite old
-- ones. Called after HINCRBY seq count found none; returns the first new number.
local function renumber(count)
  local t = redis.call('TIME')
  local base = t[1] .. string.format('%06d', tonumber(t[2]))
  return redis.call('HINCRBY', KEYS[2], 'seq', base) - count
end
