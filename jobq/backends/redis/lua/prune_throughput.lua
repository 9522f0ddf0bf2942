-- prune_throughput: fold the minutes before a cut into the totals (minute 0), then
-- delete them.
-- ARGV: prefix, before (epoch seconds).
-- Writes: throughput:0, throughput:<minute> (deleted), throughput:minutes.
local index = P .. 'throughput:minutes'
local total = P .. 'throughput:0'
local minutes = redis.call('ZRANGEBYSCORE', index, '(0', '(' .. ARGV[2])
for _, minute in ipairs(minutes) do
  local key = P .. 'throughput:' .. minute
  local counts = redis.call('HGETALL', key)
  for i = 1, #counts, 2 do
    redis.call('HINCRBY', total, counts[i], counts[i + 1])
  end
  redis.call('DEL', key)
  redis.call('ZREM', index, minute)
end
if #minutes > 0 then
  redis.call('ZADD', index, 0, 0)
end
return #minutes
