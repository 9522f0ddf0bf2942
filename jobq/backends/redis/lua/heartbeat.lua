-- heartbeat: renew the leases a worker still holds.
-- ARGV: prefix, lease seconds, then pairs of job id and lease token.
-- Writes: job:<id> (lease_expires_at), leases.
-- Returns {number of lost ids, lost ids..., ids whose cancel was requested...}.
local lease = tonumber(ARGV[2])
local expires = server_now() + lease
local expires_text = fmt_time(expires)
local lost, cancel = {}, {}
for i = 3, #ARGV - 1, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local h = read(id, {'status', 'lease_token', 'cancel_requested'})
  if h and h.status == 'running' and h.lease_token == token then
    redis.call('HSET', job_key(id), 'lease_expires_at', expires_text)
    zset_add(P .. 'leases', expires, id)
    if h.cancel_requested == '1' then
      cancel[#cancel + 1] = id
    end
  else
    lost[#lost + 1] = id
  end
end
flush()
local out = {#lost}
for _, id in ipairs(lost) do
  out[#out + 1] = id
end
for _, id in ipairs(cancel) do
  out[#out + 1] = id
end
return out
