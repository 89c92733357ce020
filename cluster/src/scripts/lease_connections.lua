-- Raises node ARGV[1]'s lease of an account's connection slots by ARGV[3] if every live
-- node's leases together stay within ARGV[2]. KEYS[1] is a hash: node -> "slots:expires_ms";
-- a lease past its expiry (its node stopped renewing) counts for nothing and is dropped.
-- ARGV[4] is the lease time in milliseconds. Returns 1 when leased, 0 when the cap is reached.
local node = ARGV[1]
local cap = tonumber(ARGV[2])
local more = tonumber(ARGV[3])
local lease = tonumber(ARGV[4])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local others, mine = 0, 0
local entries = redis.call('HGETALL', KEYS[1])
for i = 1, #entries, 2 do
  local value = entries[i + 1]
  local sep = string.find(value, ':', 1, true)
  local slots = tonumber(string.sub(value, 1, sep - 1))
  local expires = tonumber(string.sub(value, sep + 1))
  if expires <= now then
    redis.call('HDEL', KEYS[1], entries[i])
  elseif entries[i] == node then
    mine = slots
  else
    others = others + slots
  end
end
if others + mine + more > cap then
  return 0
end
redis.call('HSET', KEYS[1], node, string.format('%d:%d', mine + more, now + lease))
redis.call('PEXPIRE', KEYS[1], lease * 2)
return 1
