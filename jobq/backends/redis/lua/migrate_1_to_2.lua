-- migrate_1_to_2: pack a version 1 job hash's fixed fields into version 2's one spec
-- field (keys.md). Run by migrate() over every job hash, in batches; a hash already
-- converted, or not a job hash, is left alone, so an interrupted run can start again.
-- ARGV: prefix, job id, job id, ...
-- Writes: job:<id>.
-- Returns how many hashes it converted.
local OLD = {'task', 'args', 'kwargs', 'max_attempts', 'created_at', 'timeout'}
local converted = 0
for i = 2, #ARGV do
  local name = job_key(ARGV[i])
  local raw = redis.pcall('HMGET', name, 'spec', unpack(OLD))
  if type(raw) == 'table' and not raw.err and not raw[1] and raw[2] then
    local spec = table.concat({raw[5] or '1', raw[6] or '', raw[7] or '', raw[3] or '[]',
      raw[4] or '{}', raw[2]}, '\31')
    redis.call('HSET', name, 'spec', spec)
    redis.call('HDEL', name, unpack(OLD))
    converted = converted + 1
  end
end
return converted
