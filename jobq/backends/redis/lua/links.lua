-- links: what a job waits for (in order) and the jobs that wait for it (oldest first);
-- jobs deleted since (retention, purge) are left out of the second list.
-- ARGV: prefix, job id.
-- Returns {dependency ids, dependent ids}.
local id = ARGV[2]
local waiting = {}
for _, waiter in ipairs(redis.call('HKEYS', link_key('dependents', id))) do
  local seq = redis.pcall('HGET', job_key(waiter), 'seq')
  if type(seq) == 'string' then
    waiting[#waiting + 1] = {tonumber(seq) or 0, waiter}
  end
end
table.sort(waiting, function(a, b) return a[1] < b[1] end)
local dependents = {}
for i, entry in ipairs(waiting) do
  dependents[i] = entry[2]
end
return {redis.call('LRANGE', link_key('deps', id), 0, -1), dependents}
