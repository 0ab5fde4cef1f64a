local which, give = ARGV[1], ARGV[2] == '1'
local archived, active = {}, {}
if which ~= 'active' then
  if give then archived = redis.call('LRANGE', KEYS[3], 0, -1) end
  redis.call('DEL', KEYS[3])
end
if which ~= 'archived' then
  if give then active = redis.call('LRANGE', KEYS[1], 0, -1) end
  redis.call('DEL', KEYS[1])
end
if which == 'all' then
  redis.call('DEL', KEYS[2])
  if #KEYS == 4 then redis.call('ZREM', KEYS[4], ARGV[3]) end
end
return {archived, active}
