-- The newest ARGV[1] session ids of an owner's list (KEYS[1]; KEYS[2] its marker).
-- Returns {0, ids...}, or {1} when the list was lost (lost_lib.lua).
if index_lost(KEYS[1], KEYS[2]) then return { 1 } end
local found = redis.call('ZRANGE', KEYS[1], 1, tonumber(ARGV[1]), 'REV')  -- '' is rank 0
table.insert(found, 1, 0)
return found
