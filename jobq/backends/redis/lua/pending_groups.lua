-- pending_groups: where pending jobs sit in the ready sets, for listing them newest first
-- (read only). Pending jobs have no status index of their own: a ready set orders them
-- by priority, then by seq, so one priority's jobs fill consecutive ranks, oldest first,
-- and each such group can be paged by rank (ZRANGE) as a status index is.
-- ARGV: prefix.
-- Returns a flat [queue, score, first rank, count, ...], one entry per (queue, priority).
local out, ranks = {}, {}
each_priority_head(function(queue, key, _, score)
  local rank = ranks[queue] or 0
  local n = redis.call('ZCOUNT', key, score, score)
  for _, v in ipairs({queue, score, rank, n}) do
    out[#out + 1] = v
  end
  ranks[queue] = rank + n
end)
return out
