-- Delete every key of one thread in one step: a checkpoint or a namespace saved while
-- the keys were being listed would survive the delete (two round trips), and the run's
-- next checkpoint would then reference values that were deleted.
-- KEYS[1] the index, KEYS[2] the namespace set, KEYS[3] the writes set (keys of records
-- holding pending writes of a checkpoint not in the index: note_unindexed.lua), KEYS[4]
-- the slot guard: the keys of records, value hashes and heads come from the members read
-- here (undeclared, all in the thread's slot). ARGV[1] the thread's key prefix ("<namespace>:cp:{<thread>}:").
-- Key parts are escaped as keys.escape_part does.
local prefix = ARGV[1]
local escapes = { ['%'] = '%25', ['{'] = '%7B', ['}'] = '%7D', [':'] = '%3A' }
local function esc(part)
  return (string.gsub(part, '[%%{}:]', escapes))
end

local doomed = { KEYS[1], KEYS[2], KEYS[3] }
for _, ns in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local e = esc(ns)
  doomed[#doomed + 1] = prefix .. 'b:' .. e
  doomed[#doomed + 1] = prefix .. 'h:' .. e
  doomed[#doomed + 1] = prefix .. 's:' .. e
end
local function records(members)
  for _, m in ipairs(members) do
    local cut = string.find(m, '\0', 1, true)
    if cut then
      doomed[#doomed + 1] =
        prefix .. 'c:' .. esc(string.sub(m, 1, cut - 1)) .. ':' .. esc(string.sub(m, cut + 1))
    end
  end
end
records(redis.call('ZRANGE', KEYS[1], 0, -1))
for _, key in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  doomed[#doomed + 1] = key
end
local n = 0
for i = 1, #doomed, 1000 do
  n = n + redis.call('UNLINK', unpack(doomed, i, math.min(i + 999, #doomed)))
end
return n
