"""Pools run attempts; the worker picks one by name."""

from __future__ import annotations

from jobq.worker.pools.base import Pool, PoolSetup
from jobq.worker.pools.thread import ThreadPool

POOLS: dict[str, type[Pool]] = {
    "thread": ThreadPool,
}

__all__ = ["POOLS", "Pool", "PoolSetup", "ThreadPool"]
