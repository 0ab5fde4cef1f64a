-- Drop the vectors an item no longer has (before a put writes its new ones, or a delete).
-- KEYS[1] the item hash, KEYS[2] the slot guard (vector keys are deleted undeclared);
-- ARGV[1] the prefix of its vector keys (member .. "\x1d"), ARGV[2] how many vectors the
-- item keeps (its vectors 0 .. ARGV[2]-1 are rewritten).
-- Reads the old count from the item's field 'n', so a concurrent put never leaves one.
local old = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
for i = tonumber(ARGV[2]), old - 1 do
  redis.call('DEL', ARGV[1] .. i)
end
return old
