-- finish: record how attempts ended, each fenced by its lease token.
-- A job whose cancel was requested while it ran ends cancelled instead of being retried
-- or handed back.
-- ARGV: prefix, the client's clock, retention in ms ("" keeps finished jobs),
--       outcomes as JSON: [[id, token, status, result, error type, error message,
--       traceback, run_at, replay], ...] ("" for none; replay "1" when the outcome is
--       re-sent after a lost reply).
-- Writes: job:<id>, leases, status:<status>, counts, unknown:<task> and unknown, and by
--         outcome: finished:<status>
--         and key:<key> (finished), scheduled:<queue> (retry later), ready:<queue> and
--         wake:<queue> (handed back).
--         A job that ended: what waits for it (wf_settle, lib_workflow.lua).
-- Returns one 1/0 per outcome: applied, or the lease was no longer held.
-- transition: running -> succeeded
-- transition: running -> failed
-- transition: running -> scheduled
-- transition: running -> pending
-- transition: running -> cancelled
local now = server_now()
local stamp = fmt_time(now)
local skew = now - tonumber(ARGV[2])
local retention_ms = ARGV[3]
local outcomes = cjson.decode(ARGV[4])
local FIELDS = {'status', 'lease_token', 'done_token', 'queue', 'seq', 'priority', 'key',
  'attempts', 'cancel_requested', 'unknown_task_since'}
local woken = {}

local function add(fields, name, value)
  fields[#fields + 1] = name
  fields[#fields + 1] = value
end

local function set_error(fields, o)
  if o[5] ~= '' then
    add(fields, 'error_type', o[5])
    add(fields, 'error_message', o[6])
    add(fields, 'error_traceback', o[7])
  end
end

local function apply(id, h, o)
  local status = o[3]
  -- A job someone asked to cancel does not run again: a retry or a hand-back ends it.
  local cancelled = h.cancel_requested == '1' and (status == 'scheduled' or status == 'pending')
  local final = cancelled and 'cancelled' or status
  -- Emptied fields read as absent (one HSET instead of an HDEL as well).
  local fields = {'status', final, 'done_token', o[2], 'lease_token', '',
    'lease_expires_at', ''}
  zset_rem(P .. 'leases', id)
  if status == 'succeeded' and o[4] ~= '' then
    add(fields, 'result', o[4])
  elseif status == 'failed' then
    set_error(fields, o)
  elseif status == 'scheduled' then
    set_error(fields, o)
    add(fields, 'run_at', o[8])
    if not cancelled then
      zset_add(scheduled_key(h.queue), tonumber(o[8]) + skew, id)
    end
  elseif status == 'pending' then -- handed back unfinished: the attempt is not counted
    add(fields, 'attempts', string.format('%d', math.max((tonumber(h.attempts) or 0) - 1, 0)))
    add(fields, 'worker_id', '')
    if not cancelled then
      make_ready(id, h)
      woken[h.queue] = true
    end
  end
  if FINISHED[final] then
    add(fields, 'finished_at', stamp)
  end
  forget_unknown_task(id, h, fields) -- a worker that has its task took it
  redis.call('HSET', job_key(id), unpack(fields))
  restatus(id, h.queue, h.seq, 'running', final)
  if FINISHED[final] then
    mark_finished(id, h, final, now, retention_ms)
    wf_settle(id, final, now, retention_ms, o[4])
  end
end

local out = {}
for i, o in ipairs(outcomes) do
  local id, token = o[1], o[2]
  local h = read(id, FIELDS)
  if h and h.status == 'running' and h.lease_token == token then
    apply(id, h, o)
    out[i] = 1
  elseif h and o[9] == '1' and h.done_token == token then
    out[i] = 1 -- this very outcome was applied by the send whose reply was lost
  else
    out[i] = 0
  end
end
flush()
for queue in pairs(woken) do
  wake(queue)
end
return out
