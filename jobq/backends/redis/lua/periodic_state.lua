-- periodic_state: read the leader lease, the registered versions and the last ticks.
-- ARGV: prefix
-- Writes: nothing.
-- Returns JSON: {now, leader: [holder, term, expires_at, elected_at] (flat HGETALL),
-- specs, first, last (flat HGETALL of periodic:specs / periodic:first / periodic:last),
-- seen (flat ZRANGE WITHSCORES of periodic:seen)}.
return cjson.encode({
  now = fmt_time(server_now()),
  leader = redis.call('HGETALL', P .. 'leader:periodic'),
  specs = redis.call('HGETALL', P .. 'periodic:specs'),
  first = redis.call('HGETALL', P .. 'periodic:first'),
  seen = redis.call('ZRANGE', P .. 'periodic:seen', 0, -1, 'WITHSCORES'),
  last = redis.call('HGETALL', P .. 'periodic:last'),
})
