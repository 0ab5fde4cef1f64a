-- Empty a shallow saver's hash for the checkpoint about to replace the one it holds,
-- keeping the pending writes already stored for it or a later checkpoint: with
-- LangGraph's durability="async" (its default) saves run in the background, and a task's
-- writes (an interrupt) may land before the checkpoint they belong to, or before the one
-- preceding it. A DEL of the hash lost them: the interrupt was no longer in the state.
-- A write field is "w", the 4-byte big-endian length of its checkpoint id, the id, then
-- the task's parts (records.py). Fields in `fresh` (the new record's, written just
-- before) are kept.

-- bytewise a < b (Lua's own < collates by the server's locale)
local function before(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then
      return x < y
    end
  end
  return #a < #b
end

local function shallow_clear(key, new, fresh)
  local drop = {}
  for _, field in ipairs(redis.call('HKEYS', key)) do
    local keep = fresh[field] ~= nil
    if not keep and string.sub(field, 1, 1) == 'w' and #field >= 5 then
      local a, b, c, d = string.byte(field, 2, 5)
      local size = ((a * 256 + b) * 256 + c) * 256 + d
      keep = not before(string.sub(field, 6, 5 + size), new)
    end
    if not keep then
      drop[#drop + 1] = field
    end
  end
  for i = 1, #drop, 1000 do
    redis.call('HDEL', key, unpack(drop, i, math.min(i + 999, #drop)))
  end
end
