-- waiting_tasks: per task, the waiting jobs that a worker lacking the task handed back
-- (read only): one step per task, whatever the number of jobs.
-- ARGV: prefix.
-- Returns a flat [task, jobs, since, ...]: since is when the longest-waiting of them was
-- first handed back (epoch seconds).
local tasks = redis.call('SMEMBERS', P .. 'unknown')
table.sort(tasks)
local out = {}
for _, task in ipairs(tasks) do
  local first = redis.call('ZRANGE', unknown_key(task), 0, 0, 'WITHSCORES')
  if first[2] then
    out[#out + 1] = task
    out[#out + 1] = redis.call('ZCARD', unknown_key(task))
    out[#out + 1] = first[2]
  end
end
return out
