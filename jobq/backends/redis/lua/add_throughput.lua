-- add_throughput: add one worker's counts of finished attempts to the per-minute history.
-- ARGV: prefix, then per count: minute (epoch seconds), queue, succeeded, failed, retried.
-- Writes: throughput:<minute> (hash "<outcome>:<queue>" -> count), throughput:minutes.
for i = 2, #ARGV, 5 do
  local key = P .. 'throughput:' .. ARGV[i]
  local queue = ARGV[i + 1]
  for j, outcome in ipairs({'succeeded', 'failed', 'retried'}) do
    local n = tonumber(ARGV[i + 1 + j])
    if n ~= 0 then
      redis.call('HINCRBY', key, outcome .. ':' .. queue, n)
    end
  end
  redis.call('ZADD', P .. 'throughput:minutes', ARGV[i], ARGV[i])
end
return 0
