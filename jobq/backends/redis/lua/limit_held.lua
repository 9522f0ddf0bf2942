-- limit_held: how many waiting jobs claims have held back for their limit. Members of
-- limits:held whose job started, finished or is gone leave the set here.
-- ARGV: prefix.
-- Writes: limits:held.
-- Returns the count.
local set = P .. 'limits:held'
local n = 0
for _, id in ipairs(redis.call('SMEMBERS', set)) do
  local h = read(id, {'status', 'limit_held_since'})
  if h and (h.status == 'scheduled' or h.status == 'pending')
      and h.limit_held_since and h.limit_held_since ~= '' then
    n = n + 1
  else
    redis.call('SREM', set, id)
  end
end
return n
