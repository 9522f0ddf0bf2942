-- oldest_pending: per queue, since when the job at the head of its line has been due
-- (read only). A ready set orders pending jobs by priority, then oldest first, so the
-- first job of each priority is the oldest of that priority; the answer is the earliest
-- run_at among those heads (a cost per priority, not per pending job).
-- ARGV: prefix.
-- Returns a flat [queue, run_at, ...].
local out, oldest = {}, {}
each_priority_head(function(queue, _, member)
  local run_at = tonumber(redis.call('HGET', job_key(id_of_member(member)), 'run_at'))
  if run_at then
    if oldest[queue] == nil then
      out[#out + 1] = queue
      out[#out + 1] = tostring(run_at)
      oldest[queue] = #out
    elseif run_at < tonumber(out[oldest[queue]]) then
      out[oldest[queue]] = tostring(run_at)
    end
  end
end)
return out
