local hits = 0
if ARGV[1] ~= '' and redis.call('EXISTS', KEYS[3]) == 1 then
  hits = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
end
for i = 2, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
return hits
