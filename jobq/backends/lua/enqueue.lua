-- enqueue: store new jobs in one step, or point at the live job holding a job's
-- idempotency key.
-- ARGV: prefix, replay ("1" when re-sent after a lost reply), the client's clock,
--       jobs as JSON: [[id, task, queue, args, kwargs, priority, status, max_attempts,
--       run_at, created_at, key, timeout], ...] (numbers as text, "" for none); a row
--       of the id alone repeats every other field of the row before it
-- Writes: job:<id>, seq, status:<status>, ready:<queue> or scheduled:<queue>,
--         key:<key>, counts, wake:<queue>.
-- Returns {stored, i, existing_id, ...}: i is the 1-based position of a job whose key
-- was held by the live job existing_id; every other job was stored.
local replay = ARGV[2] == '1'
local jobs = cjson.decode(ARGV[4])

-- One job, first send (task.enqueue()): the steps of the batch path below, without its
-- tables and closures, which cost a one-job script about as much as a Redis command.
if #jobs == 1 and not replay then
  local j = jobs[1]
  local id, queue, status, key = j[1], j[3], j[7], j[11]
  local name = job_key(id)
  if redis.call('EXISTS', name) > 0 then
    return redis.error_reply('jobq: job id ' .. id .. ' already exists')
  end
  if key ~= '' then
    local holder = key_holder(key)
    if holder and LIVE[redis.pcall('HGET', job_key(holder), 'status')] then
      return {0, 1, holder}
    end
    redis.call('SET', P .. 'key:' .. key, id)
  end
  local s = string.format('%d', redis.call('INCR', P .. 'seq'))
  if key == '' and j[12] == '' then
    redis.call('HSET', name, 'task', j[2], 'queue', queue, 'args', j[4], 'kwargs', j[5],
      'priority', j[6], 'status', status, 'max_attempts', j[8], 'run_at', j[9],
      'created_at', j[10], 'seq', s)
  else
    local fields = {'task', j[2], 'queue', queue, 'args', j[4], 'kwargs', j[5],
      'priority', j[6], 'status', status, 'max_attempts', j[8],
      'run_at', j[9], 'created_at', j[10], 'seq', s}
    if key ~= '' then
      fields[#fields + 1] = 'key'
      fields[#fields + 1] = key
    end
    if j[12] ~= '' then
      fields[#fields + 1] = 'timeout'
      fields[#fields + 1] = j[12]
    end
    redis.call('HSET', name, unpack(fields))
  end
  redis.call('ZADD', P .. 'status:' .. status, s, id)
  redis.call('HINCRBY', P .. 'counts', status .. ':' .. queue, 1)
  if status == 'pending' then
    redis.call('ZADD', ready_key(queue), ready_score(j[6]), ready_member(s, id))
  elseif status == 'scheduled' then
    local skew = server_now() - tonumber(ARGV[3])
    redis.call('ZADD', scheduled_key(queue), tonumber(j[9]) + skew, id)
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

-- Refuse before writing anything: an id already taken is a caller bug, except when
-- this is a re-send of a call whose reply was lost. Ids are random (uuid4), so only a
-- re-send looks, one job at a time; a first send checks the whole batch in one call.
local skip = {}
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
    local found = redis.call('HGET', names[i], 'created_at')
    if found then
      if not (replay and found == j[10]) then
        return redis.error_reply('jobq: job id ' .. ids[i] .. ' already exists')
      end
      skip[i] = true
    end
  end
end

local out = {0}
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
  local id, queue, status, key = ids[i], j[3], j[7], j[11]
  local holder = nil
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
    local fields = {'task', j[2], 'queue', queue, 'args', j[4], 'kwargs', j[5],
      'priority', j[6], 'status', status, 'max_attempts', j[8],
      'run_at', j[9], 'created_at', j[10], 'seq', s}
    if key ~= '' then
      fields[#fields + 1] = 'key'
      fields[#fields + 1] = key
      redis.call('SET', P .. 'key:' .. key, id)
    end
    if j[12] ~= '' then
      fields[#fields + 1] = 'timeout'
      fields[#fields + 1] = j[12]
    end
    redis.call('HSET', names[i], unpack(fields))
    add(P .. 'status:' .. status, s, id)
    if status == 'pending' then
      add(ready_key(queue), ready_score(j[6]), ready_member(s, id))
    elseif status == 'scheduled' then
      add(scheduled_key(queue), due_score(j[9]), id)
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
