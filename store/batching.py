"""Many look-ups in one query, and many Redis commands in one round trip.

In a flash sale most answers are "sold out", found from a Redis mark without the database. But a
request that carries an idempotency key must still ask the database whether an earlier try with
the same key made an order (then that order is the answer, not "sold out"): one round trip per
sold-out answer, which halved the rate of those answers. A Batcher gathers the look-ups asked in
one turn of the event loop and makes one query of them. Nothing waits for a timer: the query
goes at the end of the turn it was asked in, and each batch is its own query (a slow one holds
up only its own batch).

The same holds for Redis: a page of orders served from the cache, or a create's read of the cart,
is one Redis command whose round trip costs the service more CPU than the rest of its work there.
Under load many requests ask theirs in the same turn of the event loop; pipelined() sends them as
one pipeline ("auto-pipelining"): one write, one read, one wake-up of Redis.
"""
import asyncio
import functools
import hashlib
import weakref

import redis.exceptions

from redis_client import is_cluster_client


class Batcher:
    def __init__(self, fetch_many):
        # async fetch_many(keys: list) -> {key: value}; a key it does not return is None
        self.fetch_many = fetch_many
        self.waiting = {}       # key -> futures of the callers asking for it this turn
        self.scheduled = False
        self.running = set()    # the batches' tasks, referenced until done

    async def get(self, key):
        future = asyncio.get_running_loop().create_future()
        self.waiting.setdefault(key, []).append(future)
        if not self.scheduled:
            self.scheduled = True
            asyncio.get_running_loop().call_soon(self._send)
        return await future

    def _send(self):
        self.scheduled = False
        batch, self.waiting = self.waiting, {}
        task = asyncio.get_running_loop().create_task(self._fetch(batch))
        self.running.add(task)
        task.add_done_callback(self.running.discard)

    async def _fetch(self, batch):
        futures = [future for waiting in batch.values() for future in waiting]
        try:
            found = await self.fetch_many(list(batch))
        except asyncio.CancelledError:
            for future in futures:
                future.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 - every caller gets the error its own query would have
            for future in futures:
                if not future.done():
                    future.set_exception(exc)
            return
        for key, waiting in batch.items():
            for future in waiting:
                if not future.done():  # a caller may have been cancelled (its request timed out)
                    future.set_result(found.get(key))


class Unbatched:
    """Each command sent on its own: what pipelined() gives for a Redis Cluster client (a cluster
    pipeline splits commands by node and knows no scripts that read keys it was not told of), and
    the base of AutoPipeline."""

    def __init__(self, client):
        self.client = client

    async def execute_command(self, *args, **options):
        return await self.client.execute_command(*args, **options)

    async def run_script(self, script: str, keys, args):
        """EVALSHA of `script` (its text crosses the network once per server), EVAL if Redis does
        not know it yet (a new or restarted server)."""
        sha = _sha1_of(script)
        try:
            return await self.execute_command("EVALSHA", sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            return await self.execute_command("EVAL", script, len(keys), *keys, *args)


class AutoPipeline(Unbatched):
    """Commands of one Redis client asked in one turn of the event loop, sent as one pipeline.

    The first command of a turn leads: it yields the turn once, so that the other requests woken
    in it add their commands, then sends them all. Alone, it is sent as a plain command (a
    pipeline object costs more than a command, and only pays off when it carries several).
    Several run as a task of their own, so that a caller cancelled (its request timed out) cuts
    no other caller's command short.

    Each caller gets its own command's answer or error: a command's error (a wrong type, say)
    reaches only its caller, a failure of the connection every caller of the batch, as it would
    have reached each alone. A caller's commands still run in the order it awaits them; those of
    different callers are independent.
    """

    def __init__(self, client):
        super().__init__(client)
        self.batch = None       # [(args, options, future)] of this turn, the leader's first
        self.running = set()    # the batches' tasks, referenced until done

    async def execute_command(self, *args, **options):
        if self.batch is not None:  # a batch is open this turn: join it
            future = asyncio.get_running_loop().create_future()
            self.batch.append((args, options, future))
            return await future
        batch = self.batch = [(args, options, None)]
        try:
            await asyncio.sleep(0)  # one turn: the others asked in it join the batch
        except asyncio.CancelledError:
            self._close(batch)
            if len(batch) > 1:  # the others' commands still go
                self._spawn(batch[1:])
            raise
        self._close(batch)
        if len(batch) == 1:
            return await super().execute_command(*args, **options)
        own = asyncio.get_running_loop().create_future()
        batch[0] = (args, options, own)
        self._spawn(batch)
        return await own

    def _close(self, batch):
        if self.batch is batch:
            self.batch = None

    def _spawn(self, batch):
        task = asyncio.get_running_loop().create_task(self._run(batch))
        self.running.add(task)
        task.add_done_callback(self.running.discard)

    async def _run(self, batch):
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for args, options, _ in batch:
                    pipe.execute_command(*args, **options)
                results = await pipe.execute(raise_on_error=False)
        except asyncio.CancelledError:
            for _, _, future in batch:
                future.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 - every caller gets the error its own command would have
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, _, future), result in zip(batch, results):
            if future.done():  # its caller was cancelled (its request timed out)
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)


_PIPELINES = weakref.WeakKeyDictionary()  # Redis client -> its AutoPipeline


def pipelined(client):
    """The AutoPipeline of this Redis client (made on first use, one per client)."""
    pipeline = _PIPELINES.get(client)
    if pipeline is None:
        pipeline = _PIPELINES[client] = Unbatched(client) if is_cluster_client(client) else AutoPipeline(client)
    return pipeline


@functools.lru_cache(maxsize=64)  # the scripts are a few constants
def _sha1_of(script: str) -> str:
    return hashlib.sha1(script.encode()).hexdigest()
