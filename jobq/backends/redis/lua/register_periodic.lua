-- register_periodic: record that a live worker defines these periodic versions now.
-- ARGV: prefix, now, forget_before, then (name, hash, spec) triples; a version's field
--       is its hash (16 hex digits) followed by its name
-- Writes: periodic:specs, periodic:first (set once), periodic:seen (score raised, never
--         lowered); versions last seen before forget_before are deleted from all three.
-- Returns the number of versions deleted.
local now = tonumber(ARGV[2])
local specs, first, seen = P .. 'periodic:specs', P .. 'periodic:first', P .. 'periodic:seen'
for i = 4, #ARGV - 2, 3 do
  local field = ARGV[i + 1] .. ARGV[i]
  redis.call('HSET', specs, field, ARGV[i + 2])
  redis.call('HSETNX', first, field, ARGV[2])
  local was = tonumber(redis.call('ZSCORE', seen, field))
  if not was or was < now then
    redis.call('ZADD', seen, now, field)
  end
end
local old = redis.call('ZRANGEBYSCORE', seen, '-inf', '(' .. ARGV[3])
for _, field in ipairs(old) do
  redis.call('HDEL', specs, field)
  redis.call('HDEL', first, field)
  redis.call('ZREM', seen, field)
end
return #old
