-- Binds a sticky session (KEYS[1]) to exit ARGV[1]: a new binding lives ARGV[2] ms, an
-- existing one moves to the exit and keeps its expiry.
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 1
end
redis.call('SET', KEYS[1], ARGV[1], 'XX', 'KEEPTTL')
return 0
