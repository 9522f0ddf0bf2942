-- unregister_worker: a stopping worker leaves the registry.
-- ARGV: prefix, worker id.
-- Writes: workers, workers:seen.
-- Returns 1 if it was there.
redis.call('ZREM', P .. 'workers:seen', ARGV[2])
return redis.call('HDEL', P .. 'workers', ARGV[2])
