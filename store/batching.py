"""Many look-ups in one query.

In a flash sale most answers are "sold out", found from a Redis mark without the database. But a
request that carries an idempotency key must still ask the database whether an earlier try with
the same key made an order (then that order is the answer, not "sold out"): one round trip per
sold-out answer, which halved the rate of those answers. A Batcher gathers the look-ups asked in
one turn of the event loop and makes one query of them. Nothing waits for a timer: the query
goes at the end of the turn it was asked in, and each batch is its own query (a slow one holds
up only its own batch).
"""
import asyncio


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
