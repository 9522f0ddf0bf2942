-- reap: jobs whose lease ran out (their worker died or stalled) go back to pending with
-- the attempt counted, or fail with WorkerLost when it was their last attempt, or end
-- cancelled when their cancel had been requested.
-- ARGV: prefix, now ("" for the server's clock), batch size, retention in ms.
-- Writes: job:<id>, leases, status:<status>, counts, ready:<queue>, wake:<queue>,
--         finished:<status>, key:<key>; what waits for a job that ended (wf_settle).
-- Returns per reaped job: id, task, new status, worker id ("" if none).
local now = ARGV[2] ~= '' and tonumber(ARGV[2]) or server_now()
local batch, retention_ms = tonumber(ARGV[3]), ARGV[4]
local LOST = 'the worker running this job stopped heartbeating (killed or lost) on its '
  .. 'last allowed attempt'
local stamp = fmt_time(now)
local expired = redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', '(' .. stamp,
  'LIMIT', 0, batch)
local out = {}
local woken = {}
for _, id in ipairs(expired) do
  zset_rem(P .. 'leases', id)
  local h = read(id, {'status', 'queue', 'seq', 'priority', 'key', 'attempts', 'spec',
    'worker_id', 'cancel_requested'})
  if h and h.status == 'running' then
    local task, max_attempts = spec_task(h.spec)
    local to = 'failed'
    local fields = {'lease_token', '', 'lease_expires_at', ''}
    if h.cancel_requested == '1' then
      to = 'cancelled' -- its worker died after cancel() was asked: it must not run again
    elseif (tonumber(h.attempts) or 0) < (max_attempts or 1) then
      to = 'pending'
      make_ready(id, h)
      woken[h.queue] = true
    else
      for _, v in ipairs({'error_type', 'WorkerLost', 'error_message', LOST,
                          'error_traceback', ''}) do
        fields[#fields + 1] = v
      end
    end
    fields[#fields + 1] = 'status'
    fields[#fields + 1] = to
    if to ~= 'pending' then
      fields[#fields + 1] = 'finished_at'
      fields[#fields + 1] = stamp
    end
    redis.call('HSET', job_key(id), unpack(fields))
    restatus(id, h.queue, h.seq, 'running', to)
    if to ~= 'pending' then
      mark_finished(id, h, to, now, retention_ms)
      wf_settle(id, to, now, retention_ms)
    end
    out[#out + 1] = id
    out[#out + 1] = task or ''
    out[#out + 1] = to
    out[#out + 1] = h.worker_id or ''
  end
end
flush()
for queue in pairs(woken) do
  wake(queue)
end
return out
