"""The resources one process shares, made once at start (server.py) and passed down explicitly."""
import asyncio
from dataclasses import dataclass, field


@dataclass
class Services:
    pool: object        # aiomysql pool: the truth
    redis: object       # redis.asyncio client: carts, marks, caches
    alipay: object      # alipay.client.AlipayClient
    config: object      # config.Config
    tasks: set = field(default_factory=set)
    user_ids: dict = field(default_factory=dict)  # username -> id for tokens without a uid (never stale)

    def spawn(self, coroutine):
        """Run work after the response, keeping a reference so the task is not collected midway."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def wait_for_tasks(self, timeout=30):
        """Let work started after responses (e.g. a refund) finish before the pools close."""
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=timeout)
