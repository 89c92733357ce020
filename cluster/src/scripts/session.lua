-- A sticky session's binding: {exit, milliseconds left}, or nothing.
local exit = redis.call('GET', KEYS[1])
if not exit then
  return false
end
return {tonumber(exit), redis.call('PTTL', KEYS[1])}
