-- waiting_tasks: per task, the waiting jobs that a worker lacking the task handed back
-- (read only).
-- ARGV: prefix.
-- Returns a flat [task, jobs, since, ...]: since is when the longest-waiting of them was
-- first handed back (epoch seconds).
local found = redis.call('ZRANGE', P .. 'unknown', 0, -1, 'WITHSCORES')
local tasks, order = {}, {}
for i = 1, #found, 2 do
  local h = read(found[i], {'status', 'spec'})
  if h and LIVE[h.status] then
    local task = spec_task(h.spec) or ''
    local entry = tasks[task]
    if not entry then
      entry = {0, tonumber(found[i + 1])}
      tasks[task] = entry
      order[#order + 1] = task
    end
    entry[1] = entry[1] + 1
    entry[2] = math.min(entry[2], tonumber(found[i + 1]))
  end
end
table.sort(order)
local out = {}
for _, task in ipairs(order) do
  out[#out + 1] = task
  out[#out + 1] = tasks[task][1]
  out[#out + 1] = fmt_time(tasks[task][2])
end
return out
