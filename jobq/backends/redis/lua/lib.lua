-- Helpers shared by every jobq script; the loader puts this file in front of each one.
-- ARGV[1] is always the key prefix (default "jobq:"). keys.md lists every key.
-- Scripts never raise half way: Redis does not roll a script back, so every check that
-- can refuse comes before the first write, and job hashes are read with pcall so a
-- foreign key of the wrong type is skipped, not fatal.
local P = ARGV[1]
local FINISHED = {succeeded = true, failed = true, cancelled = true}
-- A job hash without max_lost (every job enqueued with the default) reads as this.
local DEFAULT_MAX_LOST = 3
local LIVE = {blocked = true, scheduled = true, pending = true, running = true}

-- The server's clock in epoch seconds: every client agrees on due times and leases.
local function server_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

-- Times go into hashes as text with microseconds (Lua's tostring keeps only 14 digits).
local function fmt_time(t)
  return string.format('%.6f', t)
end

local function job_key(id)
  return P .. 'job:' .. id
end

-- A ready-set member: the zero-padded insertion sequence, then the id. Members of equal
-- score (equal priority) sort by their bytes, so equal priorities come out oldest first.
local function ready_member(seq, id)
  return string.rep('0', 16 - #seq) .. seq .. ':' .. id
end

local function id_of_member(member)
  return string.sub(member, 18)
end

-- The score of a ready job: a higher priority sorts first.
local function ready_score(priority)
  return -(tonumber(priority) or 0)
end

-- A finished-index member carries the queue, so an index entry can still be counted
-- down after retention's TTL has already removed the job hash itself.
local function finished_member(id, queue)
  return id .. '\0' .. queue
end

-- Count changes are summed and written once per script.
local deltas = {}
local function count(queue, status, n)
  local field = status .. ':' .. queue
  deltas[field] = (deltas[field] or 0) + n
end

local function flush_counts()
  for field, n in pairs(deltas) do
    if n ~= 0 and redis.call('HINCRBY', P .. 'counts', field, n) <= 0 then
      redis.call('HDEL', P .. 'counts', field)
    end
  end
  deltas = {}
end

-- Sorted-set changes are gathered per key and written with one variadic ZADD / ZREM per
-- key: a batch of a thousand jobs then costs a handful of calls, not thousands. The last
-- change of a member wins, so the order of changes within a script does not matter;
-- a script that reads a sorted set it changed calls flush_zsets() first.
local zsets = {}
local function zset_change(key, member, score)
  local changes = zsets[key]
  if not changes then
    changes = {}
    zsets[key] = changes
  end
  changes[member] = score
end

local function zset_add(key, score, member)
  zset_change(key, member, score)
end

local function zset_rem(key, member)
  zset_change(key, member, false)
end

local function call_chunked(command, key, args)
  -- unpack() is limited by Lua's C stack: write in chunks.
  for first = 1, #args, 2000 do
    redis.call(command, key, unpack(args, first, math.min(first + 1999, #args)))
  end
end

local function flush_zsets()
  for key, changes in pairs(zsets) do
    local adds, rems = {}, {}
    for member, score in pairs(changes) do
      if score then
        adds[#adds + 1] = score
        adds[#adds + 1] = member
      else
        rems[#rems + 1] = member
      end
    end
    if #rems > 0 then
      call_chunked('ZREM', key, rems)
    end
    if #adds > 0 then
      call_chunked('ZADD', key, adds)
    end
  end
  zsets = {}
end

-- Jobs a worker lacking their task handed back wait in one sorted set per task
-- (`unknown:<task>`: score = since when, member id); the set `unknown` names the tasks
-- that have any, so listing them costs one step per task, not per job.
local function unknown_key(task)
  return P .. 'unknown:' .. task
end

local forgotten_tasks = {}
local function flush_unknown()
  for task in pairs(forgotten_tasks) do
    if redis.call('ZCARD', unknown_key(task)) == 0 then
      redis.call('SREM', P .. 'unknown', task)
    end
  end
  forgotten_tasks = {}
end

local function flush()
  flush_zsets()
  flush_counts()
  flush_unknown()
end

-- Pending jobs have no status index: the ready sets already hold every one of them
-- (pending_groups.lua finds them for listing), and a second entry would cost each job
-- a write when it is enqueued and another when it is claimed.
local function status_index(status)
  if status ~= 'pending' then
    return P .. 'status:' .. status
  end
  return nil
end

-- Move a job from one per-status index to another.
local function restatus(id, queue, seq, from, to)
  local old, new = status_index(from), status_index(to)
  if old then
    zset_rem(old, id)
  end
  if new then
    zset_add(new, seq, id)
  end
  count(queue, from, -1)
  count(queue, to, 1)
end

-- A job's spec: the fields fixed at enqueue, packed in one hash field (keys.md) as
-- max_attempts, created_at, timeout, args, kwargs and task, joined by the unit separator
-- (0x1f). Numbers and JSON never hold a raw 0x1f, so only the task name, kept last,
-- may. Returns the task name and max_attempts; nil for a damaged spec.
local function spec_task(spec)
  if type(spec) ~= 'string' then
    return nil
  end
  local at, parts = 1, {}
  for i = 1, 5 do
    local sep = string.find(spec, '\31', at, true)
    if not sep then
      return nil
    end
    parts[i] = string.sub(spec, at, sep - 1)
    at = sep + 1
  end
  return string.sub(spec, at), tonumber(parts[1])
end

-- Fields of a job hash by name; nil when the job is missing or the key is not a hash.
local function read(id, fields)
  local raw = redis.pcall('HMGET', job_key(id), unpack(fields))
  if type(raw) ~= 'table' or raw.err then
    return nil
  end
  local h, found = {}, false
  for i, name in ipairs(fields) do
    if raw[i] then
      h[name] = raw[i]
      found = true
    end
  end
  if not found or not h.status then
    return nil
  end
  h.queue = h.queue or ''
  h.seq = h.seq or '0'
  return h
end

-- The whole hash as a flat reply, or false for a key that is not a job hash.
local function read_all(id)
  local raw = redis.pcall('HGETALL', job_key(id))
  if type(raw) ~= 'table' or raw.err then
    return false
  end
  return raw
end

local function ready_key(queue)
  return P .. 'ready:' .. queue
end

-- Calls visit(queue, key, member, score) for the first job of each priority in the
-- ready set of every queue that has pending jobs (a ready set orders by priority, then
-- oldest first): a cost per priority, not per pending job.
local function each_priority_head(visit)
  local counted = redis.call('HGETALL', P .. 'counts')
  for i = 1, #counted, 2 do
    local queue = string.match(counted[i], '^pending:(.*)$')
    if queue then
      local key, low = ready_key(queue), '-inf'
      while true do
        local first = redis.call('ZRANGEBYSCORE', key, low, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
        if #first == 0 then
          break
        end
        visit(queue, key, first[1], first[2])
        low = '(' .. first[2]
      end
    end
  end
end

local function scheduled_key(queue)
  return P .. 'scheduled:' .. queue
end

-- Tell idle workers of this queue that a job became ready (see wait_for_work).
-- Best effort (pcall): a key of the wrong type there must not fail the change itself.
local function wake(queue)
  redis.pcall('XADD', P .. 'wake:' .. queue, 'MAXLEN', '~', 100, '*', 'q', '1')
end

-- The id a key:<key> pointer holds, or nil (also for a foreign value of another type).
local function key_holder(key)
  local holder = redis.pcall('GET', P .. 'key:' .. key)
  if type(holder) == 'string' then
    return holder
  end
  return nil
end

-- An idempotency key is held only while its job is live.
local function release_key(id, key)
  if key and key ~= '' and key_holder(key) == id then
    redis.call('DEL', P .. 'key:' .. key)
  end
end

-- The bookkeeping every finished job gets: finished index, key freed, TTL set. Failed
-- jobs (the dead-letter list) get no TTL: they stay until purged.
local function mark_finished(id, h, status, now, retention_ms)
  zset_add(P .. 'finished:' .. status, now, finished_member(id, h.queue))
  release_key(id, h.key)
  if retention_ms ~= '' and status ~= 'failed' then
    redis.call('PEXPIRE', job_key(id), retention_ms)
  end
end

-- A job no longer waiting for a worker that has its task: its unknown_task_since field
-- (emptied through `fields`, the caller's HSET) and its entry in the unknown index go.
local function forget_unknown_task(id, h, fields)
  if h.unknown_task_since and h.unknown_task_since ~= '' then
    fields[#fields + 1] = 'unknown_task_since'
    fields[#fields + 1] = ''
    local task = spec_task(h.spec or redis.pcall('HGET', job_key(id), 'spec')) or ''
    zset_rem(unknown_key(task), id)
    forgotten_tasks[task] = true
  end
end

-- Put a job into its queue's ready set.
local function make_ready(id, h)
  zset_add(ready_key(h.queue), ready_score(h.priority), ready_member(h.seq, id))
end
