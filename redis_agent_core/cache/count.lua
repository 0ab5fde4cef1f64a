-- Live entries: members scored by expiry past now on this server's clock, the one the
-- writes scored them with (update.lua); a reader's clock may differ.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = 0
for i = 1, #KEYS do n = n + redis.call('ZCOUNT', KEYS[i], string.format('%d', now), '+inf') end
return n
