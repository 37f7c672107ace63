"""The resources one process shares, made once at start (server.py) and passed down explicitly."""
import asyncio
import logging
from dataclasses import dataclass, field

log = logging.getLogger("dadashop")


@dataclass
class Services:
    pool: object        # aiomysql pool: the truth
    redis: object       # redis.asyncio client: carts, marks, caches
    alipay: object      # alipay.client.AlipayClient
    config: object      # config.Config
    tasks: set = field(default_factory=set)
    user_ids: dict = field(default_factory=dict)  # username -> id for tokens without a uid (never stale)
    batchers: dict = field(default_factory=dict)  # name -> store.batching.Batcher, made on first use

    def spawn(self, coroutine):
        """Run work after the response, keeping a reference so the task is not collected midway."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task):
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:  # nobody awaits it: log it here
            log.error("background task failed", exc_info=task.exception())

    async def wait_for_tasks(self, timeout=30):
        """Let work started after responses (e.g. a refund) finish before the pools close."""
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=timeout)
