-- list_pending: pending jobs newest first (read only). Pending jobs have no status index
-- of their own; their ready sets hold them, ordered by priority and then by seq, so the
-- newest of each (queue, priority) group are read and merged.
-- ARGV: prefix, start, count.
-- Returns a flat [id, seq, ...] of the jobs at positions start .. start + count - 1,
--   as ZREVRANGE ... WITHSCORES of a status index would.
local start, count = tonumber(ARGV[2]), tonumber(ARGV[3])
local want = start + count
local members = {}
local counted = redis.call('HGETALL', P .. 'counts')
for i = 1, #counted, 2 do
  local queue = string.match(counted[i], '^pending:(.*)$')
  if queue then
    local key = ready_key(queue)
    local low = '-inf'
    while true do -- once per priority present in the queue
      local first = redis.call('ZRANGEBYSCORE', key, low, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
      if #first == 0 then
        break
      end
      local score = first[2]
      local newest = redis.call('ZREVRANGEBYSCORE', key, score, score, 'LIMIT', 0, want)
      for _, member in ipairs(newest) do
        members[#members + 1] = member
      end
      low = '(' .. score
    end
  end
end
-- The zero-padded seq in front makes byte order the order of age.
table.sort(members, function(a, b) return a > b end)
local out = {}
for i = start + 1, math.min(want, #members) do
  out[#out + 1] = id_of_member(members[i])
  out[#out + 1] = string.format('%d', tonumber(string.sub(members[i], 1, 16)))
end
return out
