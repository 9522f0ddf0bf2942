-- fire_tick: admit one tick of a periodic task and store its job, pending, in one step.
-- ARGV: prefix, holder, term, name, tick (epoch ms), then the job: id, queue, priority,
--       run_at, max_attempts, timeout ("" for none), args, kwargs, task, max_lost ("" for
--       the default), limit ("" for none; as keys.md packs it)
-- Refuses, writing nothing, unless the caller holds leader:periodic under that term, the
-- tick is due on the server's clock, and no tick at or after it was admitted for name.
-- Writes: periodic:last (name -> tick), job:<id>, seq, ready:<queue>, counts,
--         wake:<queue>. The job's spec is packed here (keys.md) so that its created_at
--         is the server's clock at admission.
-- Returns {verdict, now}: verdict is fired, duplicate, not_leader or early.
-- creates: pending
local now = server_now()
local h = redis.call('HMGET', P .. 'leader:periodic', 'holder', 'term', 'expires_at')
if h[1] ~= ARGV[2] or tonumber(h[2]) ~= tonumber(ARGV[3]) or (tonumber(h[3]) or 0) <= now then
  return {'not_leader', fmt_time(now)}
end
local name, tick = ARGV[4], tonumber(ARGV[5])
if tick > now * 1000 then
  return {'early', fmt_time(now)}
end
local last = tonumber(redis.call('HGET', P .. 'periodic:last', name))
if last and last >= tick then
  return {'duplicate', fmt_time(now)}
end
local id, queue, priority = ARGV[6], ARGV[7], ARGV[8]
local spec = table.concat({ARGV[10], fmt_time(now), ARGV[11], ARGV[12], ARGV[13], ARGV[14]},
  '\31')
redis.call('HSET', P .. 'periodic:last', name, ARGV[5])
local s = string.format('%d', redis.call('INCR', P .. 'seq'))
redis.call('HSET', job_key(id), 'status', 'pending', 'seq', s, 'queue', queue,
  'priority', priority, 'run_at', ARGV[9], 'spec', spec)
if ARGV[15] ~= '' then
  redis.call('HSET', job_key(id), 'max_lost', ARGV[15])
end
if ARGV[16] ~= '' then
  redis.call('HSET', job_key(id), 'limit', ARGV[16])
end
redis.call('HINCRBY', P .. 'counts', 'pending:' .. queue, 1)
redis.call('ZADD', ready_key(queue), ready_score(priority), ready_member(s, id))
wake(queue)
return {'fired', fmt_time(now)}
