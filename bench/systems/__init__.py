"""Every benchmarked system, in the order the tables print them."""

from __future__ import annotations

from bench.systems.arq import ArqAdapter
from bench.systems.base import Adapter, Variant
from bench.systems.celery import CeleryAdapter
from bench.systems.dramatiq import DramatiqAdapter
from bench.systems.huey import HueyAdapter
from bench.systems.jobq import JobqPostgres, JobqRedis, JobqSQLite
from bench.systems.procrastinate import ProcrastinateAdapter
from bench.systems.rq import RQAdapter

SYSTEMS: dict[str, Adapter] = {
    a.name: a
    for a in (JobqSQLite(), JobqPostgres(), JobqRedis(), CeleryAdapter(), RQAdapter(),
              DramatiqAdapter(), HueyAdapter(), ArqAdapter(), ProcrastinateAdapter())
}

__all__ = ["SYSTEMS", "Adapter", "Variant"]
