-- postpone: hand back running jobs whose task the worker lacks (a rolling deploy), each
-- fenced by its lease token, without using an attempt. A job is offered again after half
-- the time it has waited so far (within the given bounds), and since when it waits is
-- kept; once it has waited give_up_after seconds it fails with UnknownTask; a job asked
-- to cancel ends cancelled.
-- ARGV: prefix, retention in ms, give_up_after seconds ("" for never), low and high
--       bound of the delay, jobs as JSON: [[id, token, waiting message, give-up
--       message], ...].
-- Writes: job:<id>, leases, status:<status>, counts, scheduled:<queue>, unknown,
--         unknown:<task>, and for jobs that end: finished:<status>, key:<key>, and what
--         waits for them (wf_settle, lib_workflow.lua).
-- Returns per job its new status, or "" when the lease was no longer held.
-- transition: running -> scheduled
-- transition: running -> failed
-- transition: running -> cancelled
local retention_ms = ARGV[2]
local give_up_after = tonumber(ARGV[3])
local low, high = tonumber(ARGV[4]), tonumber(ARGV[5])
local jobs = cjson.decode(ARGV[6])
local now = server_now()
local stamp = fmt_time(now)
local FIELDS = {'status', 'lease_token', 'queue', 'seq', 'priority', 'key', 'attempts',
  'cancel_requested', 'unknown_task_since', 'spec'}
local out = {}
for i, j in ipairs(jobs) do
  local id, token = j[1], j[2]
  local h = read(id, FIELDS)
  out[i] = ''
  if h and h.status == 'running' and h.lease_token == token then
    local since = tonumber(h.unknown_task_since) or now
    local to = 'scheduled'
    if h.cancel_requested == '1' then
      to = 'cancelled'
    elseif give_up_after and since <= now - give_up_after then
      to = 'failed'
    end
    local fields = {'status', to, 'lease_token', '', 'lease_expires_at', '', 'worker_id', '',
      'attempts', string.format('%d', math.max((tonumber(h.attempts) or 0) - 1, 0))}
    zset_rem(P .. 'leases', id)
    if to == 'scheduled' then
      local due = now + math.min(high, math.max(low, (now - since) / 2))
      for _, v in ipairs({'run_at', fmt_time(due), 'unknown_task_since', fmt_time(since),
                          'error_type', 'UnknownTask', 'error_message', j[3],
                          'error_traceback', ''}) do
        fields[#fields + 1] = v
      end
      zset_add(scheduled_key(h.queue), due, id)
      zset_add(unknown_key(spec_task(h.spec) or ''), since, id)
      redis.call('SADD', P .. 'unknown', spec_task(h.spec) or '')
    else
      fields[#fields + 1] = 'finished_at'
      fields[#fields + 1] = stamp
      if to == 'failed' then
        for _, v in ipairs({'error_type', 'UnknownTask', 'error_message', j[4],
                            'error_traceback', ''}) do
          fields[#fields + 1] = v
        end
      end
      forget_unknown_task(id, h, fields)
    end
    redis.call('HSET', job_key(id), unpack(fields))
    restatus(id, h.queue, h.seq, 'running', to)
    if to ~= 'scheduled' then
      mark_finished(id, h, to, now, retention_ms)
      wf_settle(id, to, now, retention_ms)
    end
    out[i] = to
  end
end
flush()
return out
