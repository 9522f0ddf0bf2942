-- limit_held: how many waiting jobs claims have held back for their limit. Members of
-- limits:held whose job started, finished or is gone leave the set here.
-- ARGV: prefix, then the queues to count (none: all).
-- Writes: limits:held.
-- Returns the count.
local set = P .. 'limits:held'
local queues = nil
if #ARGV > 1 then
  queues = {}
  for i = 2, #ARGV do
    queues[ARGV[i]] = true
  end
end
local n = 0
for _, id in ipairs(redis.call('SMEMBERS', set)) do
  local h = read(id, {'status', 'limit_held_since', 'queue'})
  if h and (h.status == 'scheduled' or h.status == 'pending')
      and h.limit_held_since and h.limit_held_since ~= '' then
    if not queues or queues[h.queue] then
      n = n + 1
    end
  else
    redis.call('SREM', set, id)
  end
end
return n
