-- next_due: the run_at of the earliest scheduled job in the given queues (read only).
-- ARGV: prefix, queue, queue, ...
-- Returns the job's run_at as stored (epoch seconds as text), or false if none.
local best_score, best_id = nil, nil
for i = 2, #ARGV do
  local first = redis.call('ZRANGE', scheduled_key(ARGV[i]), 0, 0, 'WITHSCORES')
  if first[2] and (best_score == nil or tonumber(first[2]) < best_score) then
    best_score, best_id = tonumber(first[2]), first[1]
  end
end
if best_id == nil then
  return false
end
local run_at = redis.pcall('HGET', job_key(best_id), 'run_at')
if type(run_at) ~= 'string' then
  return string.format('%.17g', best_score) -- a damaged hash: its due time will do
end
return run_at
