"""Writing in batches: the access log and the metrics keep what each request adds in memory and
write it out a moment later, once for many requests."""
import asyncio


class FlushTimer:
    """Calls `flush` `interval` seconds after the first `due()` since the last flush — at once when
    there is no running event loop to wait in (start-up, tests, tools). `flush` must call `cancel()`,
    so that a flush made early (a scrape, an error line, a full batch) also stops the wait."""

    def __init__(self, interval, flush):
        self.interval = interval
        self.flush = flush
        self.handle = None

    def due(self):
        if self.handle is None:
            try:
                self.handle = asyncio.get_running_loop().call_later(self.interval, self.flush)
            except RuntimeError:
                self.flush()

    def cancel(self):
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None
