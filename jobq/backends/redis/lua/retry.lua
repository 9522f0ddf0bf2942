-- retry: a failed or cancelled job goes back to pending with fresh attempts (and no lost
-- leases), unless
-- another live job now holds its idempotency key.
-- ARGV: prefix, job id, the client's clock as text (the new run_at).
-- Writes: job:<id> (and its TTL removed), finished:<status>, status:<status>, counts,
--         key:<key>, ready:<queue>, wake:<queue>.
-- Returns {"ok" or "key_held", the job hash as a flat list, or false for an unknown job}.
local id, run_at = ARGV[2], ARGV[3]
local h = read(id, {'status', 'queue', 'seq', 'priority', 'key'})
if not (h and (h.status == 'failed' or h.status == 'cancelled')) then
  return {'ok', read_all(id)}
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
flush()
wake(h.queue)
return {'ok', read_all(id)}
