-- throughput: the per-minute history from a minute on (read only).
-- ARGV: prefix, since (epoch seconds; 0 includes the totals of pruned minutes).
-- Returns a flat [minute, {field, count, ...}, ...].
local out = {}
local minutes = redis.call('ZRANGEBYSCORE', P .. 'throughput:minutes', ARGV[2], '+inf')
for _, minute in ipairs(minutes) do
  out[#out + 1] = minute
  out[#out + 1] = redis.call('HGETALL', P .. 'throughput:' .. minute)
end
return out
