-- purge: delete finished jobs of the given statuses that finished before a cutoff,
-- together with every index entry that names them. Also run with the retention period
-- as the cutoff, to drop the index entries of jobs whose TTL already removed the hash.
-- ARGV: prefix, older_than seconds, the cutoff of an earlier call of the same purge
--       ("" on the first), batch size, status, status, ...
-- Writes: job:<id> (with deps:<id>, dependents:<id>, results:<id>), finished:<status>,
--         status:<status>, counts.
-- Returns {deleted, index entries examined, the cutoff (epoch seconds)}: at most one
-- batch per status; call again with the same cutoff until nothing is examined.
local cutoff = ARGV[3] ~= '' and tonumber(ARGV[3]) or (server_now() - tonumber(ARGV[2]))
local batch = tonumber(ARGV[4])
local deleted, examined = 0, 0
for i = 5, #ARGV do
  local status = ARGV[i]
  local index = P .. 'finished:' .. status
  local old = redis.call('ZRANGEBYSCORE', index, '-inf', '(' .. fmt_time(cutoff),
    'LIMIT', 0, batch)
  for _, member in ipairs(old) do
    examined = examined + 1
    zset_rem(index, member)
    local sep = string.find(member, '\0', 1, true) or (#member + 1)
    local id, queue = string.sub(member, 1, sep - 1), string.sub(member, sep + 1)
    local current = redis.pcall('HGET', job_key(id), 'status')
    if current == status or current == false then
      -- Still finished (or its hash already expired): remove it everywhere.
      if current then
        redis.call('DEL', job_key(id), unpack(link_keys(id)))
      end
      zset_rem(P .. 'status:' .. status, id)
      count(queue, status, -1)
      deleted = deleted + 1
    end
  end
end
flush()
return {deleted, examined, fmt_time(cutoff)}
