-- reap: jobs whose lease ran out (their worker died, froze or lost the store). A lease
-- that ran out is not a failed attempt: the attempt is given back and a lost lease
-- counted. The job goes back to pending, or fails with WorkerLost at its max_lost-th
-- lost lease, or ends cancelled when its cancel had been requested.
-- ARGV: prefix, now ("" for the server's clock), batch size, retention in ms.
-- Writes: job:<id>, leases, status:<status>, counts, ready:<queue>, wake:<queue>,
--         finished:<status>, key:<key>, unknown:<task>, unknown; what waits for a job
--         that ended (wf_settle).
-- Returns per reaped job: id, task, new status, worker id ("" if none), lost leases.
-- transition: running -> pending
-- transition: running -> failed
-- transition: running -> cancelled
local now = ARGV[2] ~= '' and tonumber(ARGV[2]) or server_now()
local batch, retention_ms = tonumber(ARGV[3]), ARGV[4]
local stamp = fmt_time(now)
local expired = redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', '(' .. stamp,
  'LIMIT', 0, batch)
local out = {}
local woken = {}

local function worker_lost(lost, max_lost)
  return 'its worker was lost ' .. lost .. ' times while running it (killed, frozen or '
    .. 'cut off from the store until the lease ran out); a job stops after max_lost='
    .. max_lost .. ' lost leases. If the task itself kills its worker (a crash, out of '
    .. 'memory), fix it, then retry the job'
end

for _, id in ipairs(expired) do
  zset_rem(P .. 'leases', id)
  local h = read(id, {'status', 'queue', 'seq', 'priority', 'key', 'attempts', 'spec',
    'worker_id', 'cancel_requested', 'lost_leases', 'max_lost', 'unknown_task_since'})
  if h and h.status == 'running' then
    local task = spec_task(h.spec)
    local lost = (tonumber(h.lost_leases) or 0) + 1
    local max_lost = tonumber(h.max_lost) or DEFAULT_MAX_LOST
    local fields = {'lease_token', '', 'lease_expires_at', '',
      'attempts', string.format('%d', math.max((tonumber(h.attempts) or 0) - 1, 0)),
      'lost_leases', string.format('%d', lost)}
    local to = 'failed'
    if h.cancel_requested == '1' then
      to = 'cancelled' -- its worker died after cancel() was asked: it must not run again
    elseif lost < max_lost then
      to = 'pending'
      make_ready(id, h)
      woken[h.queue] = true
    else
      for _, v in ipairs({'error_type', 'WorkerLost', 'error_message',
                          worker_lost(lost, max_lost), 'error_traceback', ''}) do
        fields[#fields + 1] = v
      end
    end
    fields[#fields + 1] = 'status'
    fields[#fields + 1] = to
    if to ~= 'pending' then
      fields[#fields + 1] = 'finished_at'
      fields[#fields + 1] = stamp
      forget_unknown_task(id, h, fields)
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
    out[#out + 1] = lost
  end
end
flush()
for queue in pairs(woken) do
  wake(queue)
end
return out
