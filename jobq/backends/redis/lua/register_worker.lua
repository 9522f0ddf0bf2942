-- register_worker: add or refresh a worker in the registry, seen now (the server's
-- clock), and drop the workers not seen for forget_after seconds (killed without a
-- goodbye).
-- ARGV: prefix, worker id, the worker as JSON (keys.md), forget_after seconds.
-- Writes: workers, workers:seen.
-- Returns the number of workers dropped.
local now = server_now()
redis.call('HSET', P .. 'workers', ARGV[2], ARGV[3])
redis.call('ZADD', P .. 'workers:seen', now, ARGV[2])
local gone = redis.call('ZRANGEBYSCORE', P .. 'workers:seen', '-inf',
  '(' .. fmt_time(now - tonumber(ARGV[4])), 'LIMIT', 0, 1000)
if #gone > 0 then
  redis.call('HDEL', P .. 'workers', unpack(gone))
  redis.call('ZREM', P .. 'workers:seen', unpack(gone))
end
return #gone
