-- claim: promote due scheduled jobs, then lease up to `limit` pending jobs of the named
-- queues to one worker, highest priority first, then oldest first.
-- ARGV: prefix, replay, worker id, lease token, limit, lease seconds, queue, queue, ...
-- Writes: job:<id>, ready:<queue>, scheduled:<queue>, leases, status:<status>, counts,
--         claim:<token> (the batch, kept for one lease so a re-sent claim whose reply
--         was lost gets the same jobs back instead of orphaning them), wake:<queue>.
-- Returns, JSON-encoded (one string parses far faster than many): [server now, earliest
--   due time of a scheduled job in the queues or "", then per job: id, queue, attempts,
--   spec (keys.md)].
local replay = ARGV[2] == '1'
local worker, token = ARGV[3], ARGV[4]
local limit, lease = tonumber(ARGV[5]), tonumber(ARGV[6])
local queues = {}
for i = 7, #ARGV do
  queues[#queues + 1] = ARGV[i]
end
local now = server_now()
local stamp = fmt_time(now)
local batch_key = P .. 'claim:' .. token
local FIELDS = {'status', 'seq', 'queue', 'spec', 'attempts', 'lease_token'}

local function next_due()
  local best = nil
  for _, q in ipairs(queues) do
    local first = redis.call('ZRANGE', scheduled_key(q), 0, 0, 'WITHSCORES')
    if first[2] and (best == nil or tonumber(first[2]) < best) then
      best = tonumber(first[2])
    end
  end
  return best and string.format('%.17g', best) or ''
end

local function reply_job(out, id, h)
  local n = #out
  out[n + 1] = id
  out[n + 2] = h.queue
  out[n + 3] = h.attempts
  out[n + 4] = h.spec or ''
end

if replay then
  local prior = redis.call('GET', batch_key)
  if prior then -- the earlier send did claim: hand the same jobs back
    local out = {stamp, next_due()}
    for id in string.gmatch(prior, '[^\n]+') do
      local h = read(id, FIELDS)
      if h and h.status == 'running' and h.lease_token == token then
        h.attempts = string.format('%d', tonumber(h.attempts) or 1)
        reply_job(out, id, h)
      end
    end
    return cjson.encode(out)
  end
end

-- Promote what is due (at most 1000 per queue and call; the next claim takes the rest).
local promoted = false
for _, q in ipairs(queues) do
  local due = redis.call('ZRANGEBYSCORE', scheduled_key(q), '-inf', now, 'LIMIT', 0, 1000)
  for _, id in ipairs(due) do
    zset_rem(scheduled_key(q), id)
    local h = read(id, {'status', 'queue', 'seq', 'priority'})
    if h and h.status == 'scheduled' then
      redis.call('HSET', job_key(id), 'status', 'pending')
      restatus(id, h.queue, h.seq, 'scheduled', 'pending')
      make_ready(id, h)
      promoted = true
    end
  end
end
flush_zsets() -- the ready sets are read next

-- The best `limit` candidates across the queues.
local candidates = {}
if limit > 0 then
  for _, q in ipairs(queues) do
    local top = redis.call('ZRANGE', ready_key(q), 0, limit - 1, 'WITHSCORES')
    for i = 1, #top, 2 do
      candidates[#candidates + 1] = {tonumber(top[i + 1]), top[i], q}
    end
  end
end
if #queues > 1 then
  table.sort(candidates, function(a, b)
    if a[1] ~= b[1] then
      return a[1] < b[1]
    end
    return a[2] < b[2]
  end)
end

local out = {stamp, ''}
local ids = {}
local expires = now + lease
local expires_text = fmt_time(expires)
for i = 1, math.min(limit, #candidates) do
  local c = candidates[i]
  zset_rem(ready_key(c[3]), c[2])
  local id = id_of_member(c[2])
  local h = read(id, FIELDS)
  if h and h.status == 'pending' then
    h.attempts = string.format('%d', (tonumber(h.attempts) or 0) + 1)
    redis.call('HSET', job_key(id), 'status', 'running', 'attempts', h.attempts,
      'started_at', stamp, 'worker_id', worker, 'lease_token', token,
      'lease_expires_at', expires_text, 'cancel_requested', '0')
    zset_add(P .. 'leases', expires, id)
    restatus(id, h.queue, h.seq, 'pending', 'running')
    reply_job(out, id, h)
    ids[#ids + 1] = id
  end
end
flush()
if #ids > 0 then
  redis.call('SET', batch_key, table.concat(ids, '\n'), 'PX', math.ceil(lease * 1000))
end
-- Jobs promoted here that this worker did not take: let the other workers know.
if promoted then
  for _, q in ipairs(queues) do
    if redis.call('ZCARD', ready_key(q)) > 0 then
      wake(q)
    end
  end
end
out[2] = next_due()
return cjson.encode(out)
