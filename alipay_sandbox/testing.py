"""Helpers for tests that talk to the sandbox: a client wired to it, and a notify receiver.

    sandbox = await start_sandbox(port=0, notify_scale=0.001)
    client = sandbox_client(sandbox)
    receiver = await start_notify_receiver(answers=["fail", "success"])
    url = client.page_pay_url(..., notify_url=receiver.url, return_url="http://shop/return")
    return_url = await sandbox.open_and_pay(url)
    await receiver.wait_for(1)
"""
import asyncio
from urllib.parse import parse_qs, urlsplit

import tornado.web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

import alipay_sandbox as dev
from alipay.client import AlipayClient
from alipay.signer import params_from_arguments


def sandbox_client(sandbox=None, gateway=None, **options):
    """An AlipayClient with the development identity, pointed at the sandbox (or ``gateway``)."""
    options.setdefault("retry_delay", 0.01)
    return AlipayClient.from_files(dev.APP_ID, dev.MERCHANT_PRIVATE_KEY_PATH, dev.ALIPAY_PUBLIC_KEY_PATH,
                                   gateway or sandbox.gateway_url, seller_id=dev.SELLER_ID, **options)


def query_params(url):
    """The query of a URL (e.g. a return URL) as {key: raw str}, each value decoded once."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


class NotifyReceiver:
    """A merchant notify endpoint for tests: records each POST (raw params and loop time)
    and answers the scripted bodies in turn, then ``success``."""

    def __init__(self, answers=()):
        self.answers = list(answers)
        self.received = []   # (params: dict[str, str], loop_time: float)
        self.url = None
        self._server = None
        self._arrived = asyncio.Event()

    @property
    def params(self):
        return [params for params, _ in self.received]

    @property
    def times(self):
        return [at for _, at in self.received]

    def _record(self, params):
        self.received.append((params, asyncio.get_running_loop().time()))
        self._arrived.set()
        return self.answers.pop(0) if self.answers else "success"

    async def wait_for(self, count, timeout=5.0):
        """Wait until ``count`` notifies have arrived."""
        async def arrived():
            while len(self.received) < count:
                self._arrived.clear()
                await self._arrived.wait()
        await asyncio.wait_for(arrived(), timeout)

    def stop(self):
        if self._server:
            self._server.stop()


class _ReceiverHandler(tornado.web.RequestHandler):
    def post(self):
        receiver = self.application.settings["receiver"]
        self.set_header("Content-Type", "text/plain")
        self.finish(receiver._record(params_from_arguments(self.request.body_arguments)))


async def start_notify_receiver(answers=(), host="127.0.0.1"):
    receiver = NotifyReceiver(answers)
    sockets = bind_sockets(0, host)
    app = tornado.web.Application([(r"/notify", _ReceiverHandler)], receiver=receiver)
    receiver._server = HTTPServer(app)
    receiver._server.add_sockets(sockets)
    receiver.url = "http://%s:%d/notify" % (host, sockets[0].getsockname()[1])
    return receiver
