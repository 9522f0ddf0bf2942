-- enqueue_workflow: store the jobs of a workflow (or one job with depends_on) and what
-- each waits for, all or none. Each job is blocked unless everything it waits for has
-- succeeded, decided here from the dependencies' current state (a dependency that
-- succeeded meanwhile is met, its result copied).
-- ARGV: prefix, replay ("1" when re-sent after a lost reply), the client's clock,
--       jobs as enqueue.lua takes them (an order where each job follows the jobs of the
--       batch it waits for), waits as JSON: [[job id, [dependency id, ...], shape or ""],
--       ...] (shape: jobq.backends.base.Waits).
-- Writes: job:<id>, seq, status:<status>, ready:<queue> or scheduled:<queue>, counts,
--         wake:<queue>, deps:<id>, dependents:<dependency>, results:<id>.
-- Returns {"ok", status, args or "", ...} per job (args: the arguments when results were
-- put in front at once), or, storing nothing, {"missing", id} for an unknown dependency
-- or {"refused", id, status, task, error type, error message} for one that failed or
-- was cancelled.
-- creates: blocked, scheduled, pending
local replay = ARGV[2] == '1'
local client_now = tonumber(ARGV[3])
local jobs = cjson.decode(ARGV[4])
local waits = cjson.decode(ARGV[5])
do
  local last = nil
  for i, j in ipairs(jobs) do -- a row of the id alone repeats the row before it
    if j[2] == nil then
      local copy = {j[1]}
      for k = 2, #last do
        copy[k] = last[k]
      end
      jobs[i] = copy
    else
      last = j
    end
  end
end

local function reply_as_stored()
  local out = {'ok'}
  for _, j in ipairs(jobs) do
    local h = redis.call('HMGET', job_key(j[1]), 'status', 'spec')
    out[#out + 1] = h[1] or ''
    out[#out + 1] = h[2] ~= j[7] and h[2] or ''
  end
  return out
end

-- Refuse before writing anything.
local new = {}
for _, j in ipairs(jobs) do
  new[j[1]] = true
  if redis.call('EXISTS', job_key(j[1])) == 1 then
    if replay then
      return reply_as_stored() -- the send whose reply was lost stored them
    end
    return redis.error_reply('jobq: job id ' .. j[1] .. ' already exists')
  end
end
local found = {}
for _, w in ipairs(waits) do
  for _, dep in ipairs(w[2]) do
    if not new[dep] and not found[dep] then
      local s = redis.pcall('HMGET', job_key(dep), 'status', 'spec', 'result', 'error_type',
        'error_message')
      if type(s) ~= 'table' or s.err or not s[1] then
        return {'missing', dep}
      end
      if not LIVE[s[1]] and s[1] ~= 'succeeded' then
        return {'refused', dep, s[1], spec_task(s[2]) or '', s[4] or '', s[5] or ''}
      end
      found[dep] = s
    end
  end
end

local by_job = {}
for _, w in ipairs(waits) do
  by_job[w[1]] = w
end
local now = server_now()
local skew = now - client_now
local seq = redis.call('INCRBY', P .. 'seq', #jobs) - #jobs
local out = {'ok'}

-- Links of job id: returns its status (blocked while a dependency is open) and spec.
local function link(id, status, spec, run_at, fields)
  local w = by_job[id]
  if not w then
    return status, spec
  end
  local results, open = {}, 0
  for i, dep in ipairs(w[2]) do
    local position = string.format('%d', i - 1)
    redis.call('HSET', link_key('dependents', dep), id, position)
    local f = found[dep]
    if f and f[1] == 'succeeded' then
      results[position] = f[3] or 'null'
      local ttl = redis.call('PTTL', job_key(dep)) -- a finished job's links share its TTL
      if ttl > 0 then
        redis.call('PEXPIRE', link_key('dependents', dep), ttl)
      end
    else
      open = open + 1
    end
  end
  call_chunked('RPUSH', link_key('deps', id), w[2])
  if open == 0 then
    return status, (w[3] ~= '' and wf_with_results(spec, w[3], results) or spec)
  end
  for position, result in pairs(results) do
    redis.call('HSET', link_key('results', id), position, result)
  end
  fields[#fields + 1] = 'waiting'
  fields[#fields + 1] = string.format('%d', open)
  if w[3] ~= '' then
    fields[#fields + 1] = 'shape'
    fields[#fields + 1] = w[3]
  end
  if status == 'scheduled' then -- it waits for its time too once released
    fields[#fields + 1] = 'due'
    fields[#fields + 1] = fmt_time(tonumber(run_at) + skew)
  end
  return 'blocked', spec
end

for _, j in ipairs(jobs) do
  seq = seq + 1
  local id, queue, priority, run_at = j[1], j[2], j[3], j[5]
  local s = string.format('%d', seq)
  local fields = {'seq', s, 'queue', queue, 'priority', priority, 'run_at', run_at}
  if j[8] and j[8] ~= '' then -- absent: the default max_lost
    fields[#fields + 1] = 'max_lost'
    fields[#fields + 1] = j[8]
  end
  if j[9] then -- a limited job
    fields[#fields + 1] = 'limit'
    fields[#fields + 1] = j[9]
  end
  local status, spec = link(id, j[4], j[7], run_at, fields)
  redis.call('HSET', job_key(id), 'status', status, 'spec', spec, unpack(fields))
  count(queue, status, 1)
  if status == 'pending' then
    zset_add(ready_key(queue), ready_score(priority), ready_member(s, id))
    wf_wake(queue)
  else
    zset_add(status_index(status), s, id)
    if status == 'scheduled' then
      zset_add(scheduled_key(queue), tonumber(run_at) + skew, id)
      wf_wake(queue) -- idle workers learn the new due time
    end
  end
  out[#out + 1] = status
  out[#out + 1] = spec ~= j[7] and spec or ''
end
flush()
return out
