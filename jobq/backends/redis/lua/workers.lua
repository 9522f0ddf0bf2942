-- workers: the workers seen within stale_after seconds, oldest first (read only).
-- ARGV: prefix, stale_after seconds.
-- Returns a flat [worker id, worker as JSON (keys.md), last seen (epoch seconds), ...].
local now = server_now()
local seen = redis.call('ZRANGEBYSCORE', P .. 'workers:seen',
  fmt_time(now - tonumber(ARGV[2])), '+inf', 'WITHSCORES')
local out = {}
for i = 1, #seen, 2 do
  local info = redis.call('HGET', P .. 'workers', seen[i])
  if info then
    out[#out + 1] = seen[i]
    out[#out + 1] = info
    out[#out + 1] = seen[i + 1]
  end
end
return out
