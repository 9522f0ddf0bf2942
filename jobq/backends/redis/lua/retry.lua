-- retry: a failed or cancelled job goes back to pending with fresh attempts (and no lost
-- leases), unless
-- another live job now holds its idempotency key.
-- ARGV: prefix, job id, the client's clock as text (the new run_at).
-- Writes: job:<id> (and its TTL removed), finished:<status>, status:<status>, counts,
--         key:<key>, ready:<queue>, wake:<queue>; a job that failed while it waited goes
--         back to blocked, and so do the jobs its failure failed (wf_retry, wf_retried).
-- Returns {"ok" or "key_held", the job hash as a flat list, or false for an unknown job},
-- or {"dep_failed", dependency id, its status ("" when gone), task, error type, error
-- message} when a job it waits for is failed, cancelled or gone (nothing changed).
-- transition: failed, cancelled -> pending
local id, run_at = ARGV[2], ARGV[3]
local h = read(id, {'status', 'queue', 'seq', 'priority', 'key'})
if not (h and (h.status == 'failed' or h.status == 'cancelled')) then
  return {'ok', read_all(id)}
end
local waited = wf_retry(id, h) -- one that failed while it waited: back to blocked
if waited then
  return waited
end
if h.key and h.key ~= '' then
  local holder = key_holder(h.key)
  if holder and holder ~= id and LIVE[redis.pcall('HGET', job_key(holder), 'status')] then
    return {'key_held', read_all(id)}
  end
  redis.call('SET', P .. 'key:' .. h.key, id)
end
local jk = job_key(id)
redis.call('HDEL', jk, 'finished_at', 'result', 'error_type', 'error_message',
  'error_traceback', 'worker_id')
redis.call('HSET', jk, 'status', 'pending', 'attempts', '0', 'lost_leases', '0',
  'run_at', run_at, 'cancel_requested', '0')
redis.call('PERSIST', jk)
zset_rem(P .. 'finished:' .. h.status, finished_member(id, h.queue))
restatus(id, h.queue, h.seq, h.status, 'pending')
make_ready(id, h)
wf_retried(id)
flush()
wake(h.queue)
return {'ok', read_all(id)}
