-- Takes up to ARGV[3] requests from an account's bucket (GCRA): it refills one request every
-- ARGV[1] microseconds and holds ARGV[2] at most. KEYS[1] holds the theoretical arrival time
-- (microseconds, Redis's clock). Returns {granted, microseconds until the next one}.
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then
  tat = now
end
local room = math.floor((now + burst * interval - tat) / interval)
if room <= 0 then
  return {0, tat + interval - now - burst * interval}
end
local granted = math.min(room, want)
tat = tat + granted * interval
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
return {granted, 0}
