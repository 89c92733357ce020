-- Sets node ARGV[1]'s lease of an account's connection slots to ARGV[2] and renews it for
-- ARGV[3] milliseconds (0 slots gives the lease back). KEYS[1] as in lease_connections.lua.
local node = ARGV[1]
local slots = tonumber(ARGV[2])
local lease = tonumber(ARGV[3])
if slots == 0 then
  redis.call('HDEL', KEYS[1], node)
  return 0
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('HSET', KEYS[1], node, string.format('%d:%d', slots, now + lease))
redis.call('PEXPIRE', KEYS[1], lease * 2)
return 1
