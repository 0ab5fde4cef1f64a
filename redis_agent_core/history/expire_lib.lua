local function expire_all(ttl)
  if ttl > 0 then
    for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ttl) end  -- the session's own keys
  end
end
local function push(key, from, to)
  local len = 0
  for i = from, to, $UNPACK_CHUNK do
    len = redis.call('RPUSH', key, unpack(ARGV, i, math.min(i + $UNPACK_CHUNK_LAST, to)))
  end
  return len
end
