-- Workflow helpers (chain, group, chord, depends_on), put after lib.lua in front of every
-- script. keys.md lists the keys: deps:<id> (a list: what the job waits for, in the order
-- of its results), dependents:<id> (a hash: waiting job -> its position there),
-- results:<id> (a hash: position -> the copied result of each dependency that
-- succeeded), and the job hash fields waiting, shape and due, present until the job is
-- released. finish, cancel and reap call wf_settle in the same script that records a
-- job's end; retry calls wf_retry and wf_retried.
-- transition: blocked -> pending
-- transition: blocked -> scheduled
-- transition: blocked -> failed
-- transition: failed, cancelled -> blocked
local wf_woken = {}

local function wf_wake(queue)
  if not wf_woken[queue] then
    wf_woken[queue] = true
    wake(queue)
  end
end

-- A workflow key of job id: kind is 'deps', 'dependents' or 'results'.
local function link_key(kind, id)
  return P .. kind .. ':' .. id
end

local function link_keys(id)
  return {link_key('deps', id), link_key('dependents', id), link_key('results', id)}
end

-- Where the args JSON sits in a spec (after max_attempts, created_at and timeout): its
-- first and last byte, or nil for a damaged spec.
local function spec_args_span(spec)
  local at = 1
  for _ = 1, 3 do
    local sep = string.find(spec, '\31', at, true)
    if not sep then
      return nil
    end
    at = sep + 1
  end
  local stop = string.find(spec, '\31', at, true)
  if not stop then
    return nil
  end
  return at, stop - 1
end

-- The first argument made of dependency results: a number is the result at that
-- position, a list is a JSON list of them. Results are JSON text, joined as text.
local function wf_first_argument(shape, results)
  if type(shape) == 'number' then
    return results[string.format('%d', shape)] or 'null'
  end
  local parts = {}
  for i, part in ipairs(shape) do
    parts[i] = wf_first_argument(part, results)
  end
  return '[' .. table.concat(parts, ',') .. ']'
end

-- The spec with that first argument put in front of the job's own arguments.
local function wf_with_results(spec, shape, results)
  local first, last = spec_args_span(spec)
  if not first then
    return spec -- damaged: the worker quarantines it
  end
  local value = wf_first_argument(cjson.decode(shape), results)
  local rest = string.match(string.sub(spec, first, last), '^%s*%[%s*(.*)$') or ']'
  local args = '[' .. value .. (string.sub(rest, 1, 1) == ']' and ']' or (',' .. rest))
  return string.sub(spec, 1, first - 1) .. args .. string.sub(spec, last + 1)
end

local function wf_results(id)
  local flat = redis.call('HGETALL', link_key('results', id))
  local results = {}
  for i = 1, #flat, 2 do
    results[flat[i]] = flat[i + 1]
  end
  return results
end

-- A blocked job none of whose dependencies is open becomes pending (scheduled while its
-- own due time is ahead), with the results in its arguments.
local function wf_release(id, now)
  local h = read(id, {'status', 'queue', 'seq', 'priority', 'spec', 'shape', 'due'})
  if not h or h.status ~= 'blocked' then
    return
  end
  local spec = h.spec
  if h.shape and h.shape ~= '' then
    spec = wf_with_results(spec, h.shape, wf_results(id))
  end
  local due = tonumber(h.due)
  local to = (due and due > now) and 'scheduled' or 'pending'
  redis.call('HSET', job_key(id), 'status', to, 'spec', spec)
  redis.call('HDEL', job_key(id), 'waiting', 'shape', 'due')
  redis.call('DEL', link_key('results', id))
  restatus(id, h.queue, h.seq, 'blocked', to)
  if to == 'pending' then
    make_ready(id, h)
  else
    zset_add(scheduled_key(h.queue), due, id)
  end
  wf_wake(h.queue)
end

local function wf_ending(status, etype, emessage)
  if status == 'cancelled' then
    return 'was cancelled'
  end
  local text = 'failed: ' .. ((etype and etype ~= '') and etype or 'Error')
  if emessage and emessage ~= '' then
    text = text .. ': ' .. emessage
  end
  return text
end

-- Fail every blocked job waiting, directly or not, for root (which failed or was
-- cancelled), level by level, all in this script: its size is the number of such jobs.
local function wf_cascade(root, now, retention_ms)
  local r = read(root, {'status', 'spec', 'error_type', 'error_message', 'error_traceback'})
  if not r then
    return
  end
  local root_task = spec_task(r.spec) or ''
  local ending = wf_ending(r.status, r.error_type, r.error_message)
  local tasks = {[root] = root_task}
  local level = {root}
  while #level > 0 do
    local after = {}
    for _, dep in ipairs(level) do
      for _, waiter in ipairs(redis.call('HKEYS', link_key('dependents', dep))) do
        local h = read(waiter, {'status', 'queue', 'seq', 'key', 'spec'})
        if h and h.status == 'blocked' then
          local message = 'dependency ' .. dep .. ' (' .. tasks[dep] .. ') '
          if dep ~= root then
            message = message .. 'failed because job ' .. root .. ' (' .. root_task .. ') '
          end
          redis.call('HSET', job_key(waiter), 'status', 'failed', 'finished_at',
            fmt_time(now), 'error_type', 'DependencyFailed', 'error_message',
            message .. ending, 'error_traceback', r.error_traceback or '')
          restatus(waiter, h.queue, h.seq, 'blocked', 'failed')
          mark_finished(waiter, h, 'failed', now, retention_ms)
          tasks[waiter] = spec_task(h.spec) or ''
          after[#after + 1] = waiter
        end
      end
    end
    level = after
  end
end

-- After job id ended (status succeeded, failed or cancelled) in this script: its links
-- get its hash's TTL; a success is copied to each waiting job once and counts it down
-- (releasing it at zero); a failure or cancellation fails what waits for it.
local function wf_settle(id, status, now, retention_ms, result)
  if redis.call('EXISTS', link_key('dependents', id), link_key('deps', id)) == 0 then
    return -- most jobs: no workflow
  end
  if retention_ms ~= '' and status ~= 'failed' then
    for _, key in ipairs(link_keys(id)) do
      redis.call('PEXPIRE', key, retention_ms)
    end
  end
  if status ~= 'succeeded' then
    wf_cascade(id, now, retention_ms)
    return
  end
  local flat = redis.call('HGETALL', link_key('dependents', id))
  for i = 1, #flat, 2 do
    local waiter, position = flat[i], flat[i + 1]
    local waiting = redis.pcall('HGET', job_key(waiter), 'waiting')
    -- Unreleased only; HSETNX: each edge is met once.
    if type(waiting) == 'string' and
        redis.call('HSETNX', link_key('results', waiter), position, result or 'null') == 1 then
      if redis.call('HINCRBY', job_key(waiter), 'waiting', -1) <= 0 then
        wf_release(waiter, now)
      end
    end
  end
end

-- The number of open dependencies of an unreleased job, and the first one that is not
-- live (nor in restored) as {id, its HMGET of status, spec, error_type, error_message}.
local function wf_open_deps(id, restored)
  local met = {}
  for _, position in ipairs(redis.call('HKEYS', link_key('results', id))) do
    met[position] = true
  end
  local open = 0
  for i, dep in ipairs(redis.call('LRANGE', link_key('deps', id), 0, -1)) do
    if not met[string.format('%d', i - 1)] then
      open = open + 1
      if not restored[dep] then
        local s = redis.pcall('HMGET', job_key(dep), 'status', 'spec', 'error_type',
          'error_message')
        if type(s) ~= 'table' or s.err or not LIVE[s[1]] then
          return open, {dep, type(s) == 'table' and not s.err and s or {}}
        end
      end
    end
  end
  return open, nil
end

-- A failed or cancelled job back to blocked with open dependencies (fields as retry sets).
local function wf_block(id, h, open)
  redis.call('HDEL', job_key(id), 'finished_at', 'result', 'error_type', 'error_message',
    'error_traceback', 'worker_id')
  redis.call('HSET', job_key(id), 'status', 'blocked', 'attempts', '0', 'cancel_requested',
    '0', 'waiting', string.format('%d', open))
  zset_rem(P .. 'finished:' .. h.status, finished_member(id, h.queue))
  restatus(id, h.queue, h.seq, h.status, 'blocked')
end

-- After the retry of id: its links lose the TTL its hash lost, and the jobs its failure
-- failed while they waited come back to blocked, each once all its open dependencies are
-- live again (in insertion order: a job after the ones it waits for).
local function wf_retried(id)
  for _, key in ipairs(link_keys(id)) do
    redis.call('PERSIST', key)
  end
  local found, seen, queue, i = {}, {[id] = true}, {id}, 1
  while i <= #queue do
    for _, waiter in ipairs(redis.call('HKEYS', link_key('dependents', queue[i]))) do
      local h = not seen[waiter] and read(waiter, {'status', 'error_type', 'waiting', 'seq',
        'queue'})
      seen[waiter] = true
      if h and h.status == 'failed' and h.error_type == 'DependencyFailed' then
        queue[#queue + 1] = waiter
        if h.waiting then
          found[#found + 1] = {waiter, tonumber(h.seq) or 0, h}
        end
      end
    end
    i = i + 1
  end
  table.sort(found, function(a, b) return a[2] < b[2] end)
  local back = {}
  for _, c in ipairs(found) do
    local open, bad = wf_open_deps(c[1], back)
    if not bad and open > 0 then
      back[c[1]] = true
      wf_block(c[1], c[3], open)
    end
  end
end

-- The retry of a job never released (it failed or was cancelled while it waited): back
-- to blocked, or released when nothing is open. Returns the script's reply, or nil for
-- any other job (the plain retry goes on).
local function wf_retry(id, h)
  if not redis.call('HGET', job_key(id), 'waiting') then
    return nil
  end
  local open, bad = wf_open_deps(id, {})
  if bad then
    local s = bad[2]
    return {'dep_failed', bad[1], s[1] or '', spec_task(s[2]) or '', s[3] or '', s[4] or ''}
  end
  redis.call('PERSIST', job_key(id))
  wf_block(id, h, open)
  if open == 0 then
    wf_release(id, server_now())
  end
  wf_retried(id)
  flush()
  return {'ok', read_all(id)}
end
