"""Delivering notifies the way Alipay does: POST the signed form, resend on Alipay's schedule
until the body is exactly ``success`` (8 tries in about 25 hours, compressible by a scale)."""
import asyncio
import logging
from urllib.parse import urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from .state import NotifyAttempt

log = logging.getLogger(__name__)

# Wait before each of the 8 tries, in seconds: at once, then ≈ 4m, 10m, 10m, 1h, 2h, 6h, 15h.
RESEND_DELAYS = (0, 4 * 60, 10 * 60, 10 * 60, 60 * 60, 2 * 3600, 6 * 3600, 15 * 3600)


class Notifier:
    def __init__(self, scale=1.0, timeout=10.0):
        self.scale = scale
        self.timeout = timeout
        self._tasks = set()

    def start(self, notification):
        """Deliver in the background (the caller never waits on the merchant's server)."""
        task = asyncio.get_running_loop().create_task(self.deliver(notification))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def deliver(self, notification):
        loop = asyncio.get_running_loop()
        try:
            for number, delay in enumerate(RESEND_DELAYS, start=1):
                if delay:
                    await asyncio.sleep(delay * self.scale)
                attempt = NotifyAttempt(number=number, at=loop.time())
                notification.attempts.append(attempt)
                await self._post(notification, attempt)
                if attempt.answer == "success" and attempt.http_code == 200:
                    notification.delivered = True
                    return
        finally:
            notification.finished = True

    async def _post(self, notification, attempt):
        request = HTTPRequest(
            notification.url, method="POST", body=urlencode(notification.params),
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
            connect_timeout=self.timeout, request_timeout=self.timeout, follow_redirects=False)
        try:
            response = await AsyncHTTPClient().fetch(request, raise_error=False)
        except Exception as error:  # any failure is just an unanswered try
            attempt.error = "%s: %s" % (type(error).__name__, error)
            log.info("notify %s try %d failed: %s", notification.notify_id, attempt.number, attempt.error)
            return
        attempt.http_code = response.code
        attempt.answer = (response.body or b"").decode("utf-8", "replace")

    async def wait(self, timeout=None):
        """Wait until every notify in flight is delivered or given up."""
        while self._tasks:
            await asyncio.wait_for(asyncio.gather(*list(self._tasks), return_exceptions=True), timeout)

    def stop(self):
        for task in list(self._tasks):
            task.cancel()

    async def aclose(self):
        """Cancel deliveries in flight and wait until they are gone (a clean IOLoop close)."""
        tasks = list(self._tasks)
        self.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
