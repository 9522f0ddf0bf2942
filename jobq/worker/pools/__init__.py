"""Pools run attempts; the worker picks one by name."""

from __future__ import annotations

from jobq.worker.pools.aio import AsyncPool
from jobq.worker.pools.base import Pool, PoolSetup
from jobq.worker.pools.process import ProcessPool
from jobq.worker.pools.thread import ThreadPool

POOLS: dict[str, type[Pool]] = {
    "thread": ThreadPool,
    "process": ProcessPool,
    "async": AsyncPool,
}

__all__ = ["POOLS", "AsyncPool", "Pool", "PoolSetup", "ProcessPool", "ThreadPool"]
