-- Delete the consumers of group ARGV[1] of stream KEYS[1] that hold no pending message
-- and have been idle for ARGV[2] ms or more, the caller (ARGV[3]) excepted: processes
-- that exited, agents built per request (each names a consumer of its own). Redis never
-- deletes a consumer by itself: they piled up, ~290 bytes each, listed by every XINFO.
-- One script: a consumer handed a message between a check and its DELCONSUMER would
-- have lost it from the pending list (never claimed, never delivered again). A consumer
-- deleted while alive is recreated by its next read, having held nothing.
-- Reply: how many were deleted.
local deleted = 0
local idle = tonumber(ARGV[2])
for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local f = {}
  for i = 1, #consumer, 2 do f[consumer[i]] = consumer[i + 1] end
  if f['pending'] == 0 and f['idle'] >= idle and f['name'] ~= ARGV[3] then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f['name'])
    deleted = deleted + 1
  end
end
return deleted
