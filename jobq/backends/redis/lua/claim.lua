-- claim: promote due scheduled jobs, then lease up to `limit` pending jobs of the named
-- queues to one worker, highest priority first, then oldest first. At most `suspects` of
-- them may be jobs that lost a lease before (a worker holds one such at a time, so a job
-- that kills its worker cannot take the same neighbours down twice); the others stay.
-- Jobs of the tasks to skip (ones the worker lacks and another running worker has) are
-- left for others.
-- ARGV: prefix, replay, worker id, lease token, limit, lease seconds, suspects, seconds
--       before a job held by its concurrency limit is looked at again, rounds of looking
--       past held jobs, the number n of tasks to skip, n task names, queue, queue, ...
-- Writes: job:<id>, ready:<queue>, scheduled:<queue>, leases, status:<status>, counts,
--         claim:<token> (the batch, kept for one lease so a re-sent claim whose reply
--         was lost gets the same jobs back instead of orphaning them), wake:<queue>;
--         for limited jobs limits, running:<key>, limits:held.
-- Returns, JSON-encoded (one string parses far faster than many): [server now, earliest
--   due time of a scheduled job in the queues or "", then per job: id, queue, attempts,
--   spec (keys.md), lost leases].
-- transition: scheduled -> pending
-- transition: pending -> running
-- transition: pending -> scheduled
local replay = ARGV[2] == '1'
local worker, token = ARGV[3], ARGV[4]
local limit, lease = tonumber(ARGV[5]), tonumber(ARGV[6])
local allowance = tonumber(ARGV[7])
local recheck, rounds = tonumber(ARGV[8]), tonumber(ARGV[9])
local skipped = tonumber(ARGV[10])
local skip = {}
for i = 11, 10 + skipped do
  skip[ARGV[i]] = true
end
local queues = {}
for i = 11 + skipped, #ARGV do
  queues[#queues + 1] = ARGV[i]
end
-- Ready entries looked at per queue past the limit when jobs that lost a lease must be
-- left: a claim stays bounded even behind many of them.
local SCAN_PAST = 1000
local now = server_now()
local stamp = fmt_time(now)
local batch_key = P .. 'claim:' .. token
local FIELDS = {'status', 'seq', 'queue', 'spec', 'attempts', 'lease_token', 'lost_leases',
  'limit', 'limit_held_since'}

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
  out[n + 5] = h.lost_leases or '0'
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

-- Candidates of one queue, best first: up to `limit` jobs that never lost a lease and up
-- to `allowance` that did, each with its hash. Stale entries (no pending job behind them)
-- are dropped on the way.
local function candidates_of(q, out)
  local key = ready_key(q)
  local fresh, suspects, offset = 0, 0, 0
  while fresh < limit and offset < limit + SCAN_PAST do
    local page = redis.call('ZRANGE', key, offset, offset + limit - 1, 'WITHSCORES')
    for i = 1, #page, 2 do
      local id = id_of_member(page[i])
      local h = read(id, FIELDS)
      if not (h and h.status == 'pending') then
        zset_rem(key, page[i])
      elseif skipped > 0 and skip[spec_task(h.spec) or ''] then
        -- left where it is, for a worker that has its task
      elseif (tonumber(h.lost_leases) or 0) == 0 and fresh < limit then
        fresh = fresh + 1
        out[#out + 1] = {tonumber(page[i + 1]), page[i], q, id, h, false}
      elseif (tonumber(h.lost_leases) or 0) > 0 and suspects < allowance then
        suspects = suspects + 1
        out[#out + 1] = {tonumber(page[i + 1]), page[i], q, id, h, true}
      end
    end
    if #page < 2 * limit then
      break
    end
    offset = offset + limit
  end
end

-- Limits (docs/limits.md): a limited job's `limit` field holds its concurrency, the
-- seconds between two starts of its key, its burst and its key. Decided here, on the
-- server's clock, in priority order; a job over its limit goes back to waiting (scheduled
-- at its next allowed time, no attempt used) and the claim looks further instead.
local running, tats, held_any = {}, {}, false

-- The key's running jobs: its running:<key> set, each member checked against its job
-- (one that no longer runs leaves the set here), so no slot can leak.
local function running_count(key)
  if running[key] == nil then
    local set = P .. 'running:' .. key
    local n = 0
    for _, id in ipairs(redis.call('SMEMBERS', set)) do
      if redis.pcall('HGET', job_key(id), 'status') == 'running' then
        n = n + 1
      else
        redis.call('SREM', set, id)
      end
    end
    running[key] = n
  end
  return running[key]
end

local function hold(id, h, q, member, at)
  zset_rem(ready_key(q), member)
  redis.call('HSET', job_key(id), 'status', 'scheduled', 'run_at', fmt_time(at))
  if not h.limit_held_since or h.limit_held_since == '' then
    redis.call('HSET', job_key(id), 'limit_held_since', stamp)
    redis.call('SADD', P .. 'limits:held', id)
  end
  zset_add(scheduled_key(q), at, id)
  restatus(id, h.queue, h.seq, 'pending', 'scheduled')
  held_any = true
end

-- Whether the limited job may start now; if not, it is held.
local function admit(id, h, q, member)
  local conc, interval, burst, key = string.match(h.limit, '^([^\31]*)\31([^\31]*)\31([^\31]*)\31(.*)$')
  if not key then
    return true -- a damaged limit field limits nothing
  end
  conc, interval, burst = tonumber(conc), tonumber(interval), tonumber(burst) or 1
  if conc and running_count(key) >= conc then
    hold(id, h, q, member, now + recheck)
    return false
  end
  if interval then
    local tat = tats[key]
    if tat == nil then
      tat = tonumber(redis.call('HGET', P .. 'limits', key)) or now
    end
    -- A start less than one interval late keeps its place in the schedule (limits.py).
    local base = tat > now - interval and tat or now
    local allowed = base - (burst - 1) * interval
    if allowed > now then
      hold(id, h, q, member, allowed)
      return false
    end
    tats[key] = base + interval
    redis.call('HSET', P .. 'limits', key, string.format('%.17g', base + interval))
  end
  running[key] = running_count(key) + 1
  redis.call('SADD', P .. 'running:' .. key, id)
  if h.limit_held_since and h.limit_held_since ~= '' then
    redis.call('HSET', job_key(id), 'limit_held_since', '')
    redis.call('SREM', P .. 'limits:held', id)
  end
  return true
end

local out = {stamp, ''}
local ids = {}
local expires = now + lease
local expires_text = fmt_time(expires)
local suspects = 0

local function take(candidates)
  for _, c in ipairs(candidates) do
    if #ids >= limit then
      break
    end
    if not c[6] or suspects < allowance then
      local id, h = c[4], c[5]
      if not h.limit or h.limit == '' or admit(id, h, c[3], c[2]) then
        suspects = suspects + (c[6] and 1 or 0)
        zset_rem(ready_key(c[3]), c[2])
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
  end
end

-- Held jobs leave the ready sets, so a second look finds the jobs behind them.
for _ = 1, rounds do
  local candidates = {}
  if limit > #ids then
    for _, q in ipairs(queues) do
      candidates_of(q, candidates)
    end
  end
  table.sort(candidates, function(a, b)
    if a[1] ~= b[1] then
      return a[1] < b[1]
    end
    return a[2] < b[2]
  end)
  held_any = false
  take(candidates)
  if not held_any or #ids >= limit then
    break
  end
  flush_zsets()
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
