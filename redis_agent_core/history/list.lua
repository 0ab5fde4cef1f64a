-- A page of the session index (sessions(): by last activity), after pruning every
-- session idle longer than ARGV[1] s (0: none), on the server's clock. KEYS[1] the index,
-- KEYS[2] its marker; ARGV[2] / ARGV[3] the first and last rank, ARGV[4] '1' newest
-- first. Returns {0, session ids...}, or {1} when the index was lost (lost_lib.lua).
local ttl = tonumber(ARGV[1])
if ttl > 0 then
  local cutoff = '(' .. string.format('%d', server_ms() - ttl * 1000)
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cutoff)
end
if index_lost(KEYS[1], KEYS[2]) then return { 1 } end
local start, stop = tonumber(ARGV[2]), tonumber(ARGV[3])
local found
if ARGV[4] == '1' then  -- '' sorts first: skip it
  if stop >= 0 then stop = stop + 1 end
  found = redis.call('ZRANGE', KEYS[1], start + 1, stop, 'REV')
else
  found = redis.call('ZRANGE', KEYS[1], start, stop)
end
local out = { 0 }
for _, id in ipairs(found) do
  if id ~= '' then
    out[#out + 1] = id
  end
end
return out
