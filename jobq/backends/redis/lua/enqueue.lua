-- enqueue: store new jobs in one step, or point at the live job holding a job's
-- idempotency key, or at the job already stored under a job's id (a call whose id was
-- fixed, enqueued again after a failure).
-- ARGV: prefix, replay ("1" when re-sent after a lost reply), the client's clock,
--       jobs as JSON: [[id, queue, priority, status, run_at, key, spec, max_lost,
--       limit], ...] (numbers as text, "" for none or the default; spec and limit as
--       keys.md packs them; limit only on a limited job); a row
--       of the id alone repeats every other field of the row before it
-- Writes: job:<id>, seq, status:<status> (not for pending), ready:<queue> or
--         scheduled:<queue>, key:<key>, counts, wake:<queue>.
-- Returns {stored, i, existing_id, ...}: i is the 1-based position of a job whose key
-- was held by the live job existing_id, or whose id was already stored (existing_id is
-- then its own id); every other job was stored.
-- creates: scheduled, pending
local replay = ARGV[2] == '1'
local jobs = cjson.decode(ARGV[4])

-- One job, first send (task.enqueue()): the steps of the batch path below, without its
-- tables and closures, which cost a one-job script about as much as a Redis command.
if #jobs == 1 and not replay then
  local j = jobs[1]
  local id, queue, priority, status, run_at, key = j[1], j[2], j[3], j[4], j[5], j[6]
  local name = job_key(id)
  if redis.call('EXISTS', name) > 0 then
    return {0, 1, id}
  end
  if key ~= '' then
    local holder = key_holder(key)
    if holder and LIVE[redis.pcall('HGET', job_key(holder), 'status')] then
      return {0, 1, holder}
    end
    redis.call('SET', P .. 'key:' .. key, id)
  end
  local s = string.format('%d', redis.call('INCR', P .. 'seq'))
  if key == '' and j[8] == '' and not j[9] then
    redis.call('HSET', name, 'status', status, 'seq', s, 'queue', queue,
      'priority', priority, 'run_at', run_at, 'spec', j[7])
  else
    redis.call('HSET', name, 'status', status, 'seq', s, 'queue', queue,
      'priority', priority, 'run_at', run_at, 'spec', j[7])
    if key ~= '' then
      redis.call('HSET', name, 'key', key)
    end
    if j[8] ~= '' then
      redis.call('HSET', name, 'max_lost', j[8])
    end
    if j[9] then
      redis.call('HSET', name, 'limit', j[9])
    end
  end
  redis.call('HINCRBY', P .. 'counts', status .. ':' .. queue, 1)
  if status == 'pending' then
    redis.call('ZADD', ready_key(queue), ready_score(priority), ready_member(s, id))
  else
    redis.call('ZADD', status_index(status), s, id)
    if status == 'scheduled' then
      local skew = server_now() - tonumber(ARGV[3])
      redis.call('ZADD', scheduled_key(queue), tonumber(run_at) + skew, id)
    end
  end
  if status == 'pending' or status == 'scheduled' then
    wake(queue) -- idle workers claim it, or learn the new due time
  end
  return {1}
end

-- A batch of one task's calls mostly differs by id alone: such rows share one table,
-- so there is far less JSON to decode.
local ids = {}
do
  local last = nil
  for i, j in ipairs(jobs) do
    ids[i] = j[1]
    if j[2] == nil then
      jobs[i] = last
    else
      last = j
    end
  end
end
-- Due times are kept on the server's clock: shift the client's by the measured skew
-- (read only when a job is scheduled: TIME costs a call).
local skew = nil
local function due_score(run_at)
  skew = skew or (server_now() - tonumber(ARGV[3]))
  return tonumber(run_at) + skew
end

-- Jobs whose id is already stored are not stored again: on a re-send of a call whose
-- reply was lost, the ones this very call stored (same spec) count as stored; any
-- other is the job that id names (a call with its id fixed, enqueued again). Ids are
-- random, so only a re-send looks one job at a time; a first send checks the whole batch
-- in one call.
local skip, existing = {}, {}
local names = {}
for i, id in ipairs(ids) do
  names[i] = job_key(id)
end
local function any_exists()
  for first = 1, #names, 2000 do
    if redis.call('EXISTS', unpack(names, first, math.min(first + 1999, #names))) > 0 then
      return true
    end
  end
  return false
end
if replay or any_exists() then
  for i, j in ipairs(jobs) do
    if redis.call('EXISTS', names[i]) > 0 then
      skip[i] = true
      existing[i] = not (replay and redis.pcall('HGET', names[i], 'spec') == j[7])
    end
  end
end

local out = {0}
-- Rows repeated by id alone share one table, and so one list of hash fields: each job
-- then changes only its seq in it instead of building the list anew.
local templates = {}
local seq = redis.call('INCRBY', P .. 'seq', #jobs) - #jobs
local woken = {}
-- New members only, so each sorted set gets a plain argument list (no last-change-wins
-- bookkeeping as in lib's zset_add): one variadic ZADD per key after the loop.
local adds = {}
local function add(key, score, member)
  local list = adds[key]
  if not list then
    list = {}
    adds[key] = list
  end
  list[#list + 1] = score
  list[#list + 1] = member
end
for i, j in ipairs(jobs) do
  seq = seq + 1
  local id, queue, priority, status, key = ids[i], j[2], j[3], j[4], j[6]
  local holder = existing[i] and id or nil
  if not skip[i] and key ~= '' then
    holder = key_holder(key)
    if holder and not LIVE[redis.pcall('HGET', job_key(holder), 'status')] then
      holder = nil -- a stale pointer (its job is gone or finished): the key is free
    end
  end
  if holder then
    out[#out + 1] = i
    out[#out + 1] = holder
  else
    out[1] = out[1] + 1
  end
  if not holder and not skip[i] then
    local s = string.format('%d', seq)
    -- No id (the key holds it) and no attempts (absent reads as 0): each field costs
    -- the HSET a scan of the fields before it (a small hash is one flat list).
    local fields = templates[j]
    if not fields then
      fields = {'status', status, 'seq', s, 'queue', queue, 'priority', priority,
        'run_at', j[5], 'spec', j[7]}
      if key ~= '' then
        fields[#fields + 1] = 'key'
        fields[#fields + 1] = key
      end
      if j[8] ~= '' then
        fields[#fields + 1] = 'max_lost'
        fields[#fields + 1] = j[8]
      end
      if j[9] then
        fields[#fields + 1] = 'limit'
        fields[#fields + 1] = j[9]
      end
      templates[j] = fields
    end
    fields[4] = s
    if key ~= '' then
      redis.call('SET', P .. 'key:' .. key, id)
    end
    redis.call('HSET', names[i], unpack(fields))
    if status == 'pending' then
      add(ready_key(queue), ready_score(priority), ready_member(s, id))
    else
      add(status_index(status), s, id)
      if status == 'scheduled' then
        add(scheduled_key(queue), due_score(j[5]), id)
      end
    end
    if status == 'pending' or status == 'scheduled' then
      woken[queue] = true -- idle workers claim it, or learn the new due time
    end
    count(queue, status, 1)
  end
end
for zkey, list in pairs(adds) do
  call_chunked('ZADD', zkey, list)
end
flush_counts()
for queue in pairs(woken) do
  wake(queue)
end
return out
