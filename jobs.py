"""Background jobs of every server process: close overdue orders, reconcile payments, send refunds.

Safe with any number of processes and across restarts: each step is a conditional change in the
database, never an in-memory flag; the jitter keeps processes from sweeping in lockstep.
"""
import asyncio
import logging
import random

import metrics
from store import payments

log = logging.getLogger("dadashop.jobs")

JOBS = (payments.close_overdue_orders, payments.reconcile, payments.refund_due)


async def run_once(services):
    for job in JOBS:
        try:
            result = await job(services)
            if any(result.values()) if isinstance(result, dict) else result:  # quiet when nothing happened
                log.info("%s: %s", job.__name__, result)
        except Exception:  # noqa: BLE001 - a failing sweep is logged and tried again next time
            log.exception("background job %s failed", job.__name__)
    if metrics.enabled():
        try:
            metrics.refunds_pending(await payments.pending_refunds(services))
        except Exception:  # noqa: BLE001 - a gauge is not worth a failing sweep
            log.warning("could not count pending refunds", exc_info=True)


class Jobs:
    def __init__(self, services, interval):
        self.services = services
        self.interval = interval
        self.task = asyncio.get_running_loop().create_task(self.loop())

    async def loop(self):
        await asyncio.sleep(random.uniform(0, min(self.interval, 5)))
        while True:
            await run_once(self.services)
            await asyncio.sleep(self.interval * random.uniform(0.8, 1.2))

    async def stop(self):
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass


def start(services):
    return Jobs(services, services.config.sweep_interval)
