"""The Redis store: one Lua script per multi-key change, the server's clock, stream wake-ups."""

from jobq.backends.redis.store import ENQUEUE_CHUNK, SCHEMA_VERSION, RedisBackend, connect

__all__ = ["ENQUEUE_CHUNK", "SCHEMA_VERSION", "RedisBackend", "connect"]
