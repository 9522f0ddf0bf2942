-- cancel: a waiting job (blocked, scheduled, pending) becomes cancelled and never runs;
-- a running job gets cancel_requested, which its worker hears at the next heartbeat.
-- ARGV: prefix, job id, retention in ms ("" keeps finished jobs).
-- Writes: job:<id>, ready:<queue> or scheduled:<queue>, status:<status>, counts,
--         finished:cancelled, key:<key>, unknown:<task>, unknown; what waits for it
--         (wf_settle, lib_workflow.lua).
-- Returns {changed (1/0), the job hash as a flat list, or false for an unknown job}.
-- transition: blocked, scheduled, pending -> cancelled
local id, retention_ms = ARGV[2], ARGV[3]
local h = read(id, {'status', 'queue', 'seq', 'priority', 'key', 'cancel_requested',
  'unknown_task_since'})
local changed = 0
if h and (h.status == 'blocked' or h.status == 'scheduled' or h.status == 'pending') then
  local now = server_now()
  local fields = {'status', 'cancelled', 'finished_at', fmt_time(now)}
  forget_unknown_task(id, h, fields)
  redis.call('HSET', job_key(id), unpack(fields))
  zset_rem(ready_key(h.queue), ready_member(h.seq, id))
  zset_rem(scheduled_key(h.queue), id)
  restatus(id, h.queue, h.seq, h.status, 'cancelled')
  mark_finished(id, h, 'cancelled', now, retention_ms)
  wf_settle(id, 'cancelled', now, retention_ms)
  flush()
  changed = 1
elseif h and h.status == 'running' and h.cancel_requested ~= '1' then
  redis.call('HSET', job_key(id), 'cancel_requested', '1')
  changed = 1
end
return {changed, read_all(id)}
