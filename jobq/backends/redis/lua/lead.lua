-- lead: take the periodic leader lease, or renew it for the holder that holds it.
-- ARGV: prefix, holder, term ("" for none), ttl seconds
-- Writes: leader:periodic (holder, term, expires_at, elected_at). A lease still held by
-- someone else is left alone; a free or run-out one changes hands under the next term.
-- Returns {holder or "", term, expires_at, elected_at or "", now}, numbers as text.
local key = P .. 'leader:periodic'
local now = server_now()
local h = redis.call('HMGET', key, 'holder', 'term', 'expires_at', 'elected_at')
local holder, term = h[1] or '', tonumber(h[2]) or 0
local expires, elected = tonumber(h[3]) or 0, h[4] or ''
local ttl = tonumber(ARGV[4])
if expires > now and holder == ARGV[2] and term == tonumber(ARGV[3]) then
  expires = now + ttl
  redis.call('HSET', key, 'expires_at', fmt_time(expires))
elseif expires <= now then
  holder, term, expires, elected = ARGV[2], term + 1, now + ttl, fmt_time(now)
  redis.call('HSET', key, 'holder', holder, 'term', string.format('%d', term),
    'expires_at', fmt_time(expires), 'elected_at', elected)
end
return {holder, string.format('%d', term), fmt_time(expires), elected, fmt_time(now)}
