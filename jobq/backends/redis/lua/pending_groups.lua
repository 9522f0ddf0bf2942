-- pending_groups: where pending jobs sit in the ready sets, for listing them newest first
-- (read only). Pending jobs have no status index of their own: a ready set orders them
-- by priority, then by seq, so one priority's jobs fill consecutive ranks, oldest first,
-- and each such group can be paged by rank (ZRANGE) as a status index is.
-- ARGV: prefix.
-- Returns a flat [queue, score, first rank, count, ...], one entry per (queue, priority).
local out = {}
local counted = redis.call('HGETALL', P .. 'counts')
for i = 1, #counted, 2 do
  local queue = string.match(counted[i], '^pending:(.*)$')
  if queue then
    local key = ready_key(queue)
    local low, rank = '-inf', 0
    while true do
      local first = redis.call('ZRANGEBYSCORE', key, low, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
      if #first == 0 then
        break
      end
      local n = redis.call('ZCOUNT', key, first[2], first[2])
      for _, v in ipairs({queue, first[2], rank, n}) do
        out[#out + 1] = v
      end
      rank = rank + n
      low = '(' .. first[2]
    end
  end
end
return out
