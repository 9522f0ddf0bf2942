-- reap: jobs whose lease ran out (their worker died or stalled) go back to pending with
-- the attempt counted, or fail with WorkerLost when it was their last attempt, or end
-- cancelled when their cancel had been requested.
-- ARGV: prefix, now ("" for the server's clock), batch size, retention in ms.
-- Writes: job:<id>, leases, status:<status>, counts, ready:<queue>, wake:<queue>,
--         finished:<status>, key:<key>.
-- Returns per reaped job: id, task, new status, worker id ("" if none).
local now = ARGV[2] ~= '' and tonumber(ARGV[2]) or server_now()
local batch, retention_ms = tonumber(ARGV[3]), ARGV[4]
local LOST = 'the worker running this job stopped heartbeating (killed or lost) on its '
  .. 'last allowed attempt'
local expired = redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', '(' .. fmt_time(now),
  'LIMIT', 0, batch)
local out = {}
for _, id in ipairs(expired) do
  redis.call('ZREM', P .. 'leases', id)
  local h = read(id, {'status', 'task', 'queue', 'seq', 'priority', 'key', 'attempts',
    'max_attempts', 'worker_id', 'cancel_requested'})
  if h and h.status == 'running' then
    local jk = job_key(id)
    local to = 'failed'
    redis.call('HDEL', jk, 'lease_token', 'lease_expires_at')
    if h.cancel_requested == '1' then
      to = 'cancelled' -- its worker died after cancel() was asked: it must not run again
      redis.call('HSET', jk, 'status', to, 'finished_at', fmt_time(now))
    elseif (tonumber(h.attempts) or 0) < (tonumber(h.max_attempts) or 1) then
      to = 'pending'
      redis.call('HSET', jk, 'status', to)
      make_ready(id, h)
      wake(h.queue)
    else
      redis.call('HSET', jk, 'status', to, 'finished_at', fmt_time(now),
        'error_type', 'WorkerLost', 'error_message', LOST, 'error_traceback', '')
    end
    restatus(id, h.queue, h.seq, 'running', to)
    if to ~= 'pending' then
      mark_finished(id, h, to, now, retention_ms)
    end
    out[#out + 1] = id
    out[#out + 1] = h.task or ''
    out[#out + 1] = to
    out[#out + 1] = h.worker_id or ''
  end
end
flush_counts()
return out
