-- After a trim to max_messages: drop the tool (or function) results that now lead the
-- list, whose call was trimmed away; a model refuses a tool result with no call before
-- it. A payload counts when it is a JSON object whose "type" (LangChain's
-- message_to_dict) or "role" (LlamaIndex, OpenAI) is "tool" or "function"; the plain
-- string search first keeps the JSON decode off every other message. Returns the length.
local function is_result(payload)
  if not payload or not (string.find(payload, '"tool"', 1, true)
      or string.find(payload, '"function"', 1, true)) then
    return false
  end
  local ok, message = pcall(cjson.decode, payload)
  if not ok or type(message) ~= 'table' then return false end
  local kind = message['type']
  if kind ~= 'tool' and kind ~= 'function' then kind = message['role'] end
  return kind == 'tool' or kind == 'function'
end

local function drop_leading_results(key, len)
  while len > 0 and is_result(redis.call('LINDEX', key, 0)) do
    redis.call('LPOP', key)
    len = len - 1
  end
  return len
end
