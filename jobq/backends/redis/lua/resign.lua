-- resign: give the periodic leader lease up at once, if the caller still holds it.
-- ARGV: prefix, holder, term
-- Writes: leader:periodic (expires_at, set to now: the next candidate takes it)
-- Returns 1 if given up, 0 if the caller did not hold it.
local key = P .. 'leader:periodic'
local now = server_now()
local h = redis.call('HMGET', key, 'holder', 'term', 'expires_at')
if h[1] == ARGV[2] and tonumber(h[2]) == tonumber(ARGV[3]) and (tonumber(h[3]) or 0) > now then
  redis.call('HSET', key, 'expires_at', fmt_time(now))
  return 1
end
return 0
