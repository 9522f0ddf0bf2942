-- oldest_pending: per queue, since when the job at the head of its line has been due
-- (read only). A ready set orders pending jobs by priority, then oldest first, so the
-- first job of each priority is the oldest of that priority; the answer is the earliest
-- run_at among those heads (a cost per priority, not per pending job).
-- ARGV: prefix.
-- Returns a flat [queue, run_at, ...].
local out = {}
local counted = redis.call('HGETALL', P .. 'counts')
for i = 1, #counted, 2 do
  local queue = string.match(counted[i], '^pending:(.*)$')
  if queue then
    local key = ready_key(queue)
    local low, oldest = '-inf', nil
    while true do
      local first = redis.call('ZRANGEBYSCORE', key, low, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
      if #first == 0 then
        break
      end
      local id = id_of_member(first[1])
      local run_at = tonumber(redis.call('HGET', P .. 'job:' .. id, 'run_at'))
      if run_at and (oldest == nil or run_at < oldest) then
        oldest = run_at
      end
      low = '(' .. first[2]
    end
    if oldest then
      out[#out + 1] = queue
      out[#out + 1] = tostring(oldest)
    end
  end
end
return out
