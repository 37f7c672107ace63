"""Rate limits over Redis, shared by every process: "may `identifiers` do `action` once more now?"

The counting is the `limits` library's moving window (a Lua script per hit, exact over the
window) on the process's own Redis connection pool. What an identifier is (a client IP, an
account, a buyer) is the caller's business; this module only counts. Lives in store/ because it
is state in Redis like carts and caches; the HTTP facts (which address, the 429 answer) stay in
handlers/.

A Redis failure never fails the request: the limiter then lets it through (fail open) and logs,
at most once a minute, that limits are not enforced.
"""
import asyncio
import logging
import math
import time

from limits import parse_many
from limits.aio.storage import RedisClusterStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from redis_client import CLUSTER_SCHEMES, is_cluster_client
from store.errors import TooManyRequests

log = logging.getLogger("dadashop.rate_limits")

KEY_PREFIX = "dadashop:rl"
REDIS_TIMEOUT = 1.0  # seconds: a slow Redis costs a request at most this much, then it goes through

# action -> the Config field holding its limits
ACTIONS = {
    "login_ip": "limit_login_per_ip",
    "login_account": "limit_login_per_account",
    "register_ip": "limit_register_per_ip",
    "orders_buyer": "limit_orders_per_buyer",
    "bad_callback_ip": "limit_bad_callbacks_per_ip",
}
MESSAGES = {
    "login_ip": "登录尝试过于频繁, 请稍后再试",
    "login_account": "该账号登录尝试过于频繁, 请稍后再试",
    "register_ip": "注册过于频繁, 请稍后再试",
    "orders_buyer": "操作过于频繁, 请稍后再试",
    "bad_callback_ip": "非法回调过多",
}


class RateLimiter:
    def __init__(self, redis_client, config):
        self.enabled = config.rate_limits
        self.limits = {action: parse_many(getattr(config, field)) for action, field in ACTIONS.items()}
        if is_cluster_client(redis_client):
            # limits' cluster storage makes a client of its own (from the same URL): each counter is
            # one key, so its script runs on the node that holds it
            uri, options = cluster_storage(config.redis_url)
            storage = RedisClusterStorage(uri, implementation="redispy", key_prefix=KEY_PREFIX, **options)
        else:  # the service's own pool: no second set of connections, closed with the service
            storage = RedisStorage("async+redis://", implementation="redispy", key_prefix=KEY_PREFIX,
                                   connection_pool=redis_client.connection_pool)
        self.window = MovingWindowRateLimiter(storage)
        self._last_failure_log = 0.0

    async def retry_after(self, action, *identifiers) -> int | None:
        """Count one more `action` by `identifiers`: None when allowed, else seconds until it would be."""
        if not self.enabled:
            return None
        try:
            async with asyncio.timeout(REDIS_TIMEOUT):  # not wait_for, which makes a task of every hit
                return await self._hit(action, identifiers)
        except Exception as exc:  # noqa: BLE001 - fail open: a limiter outage must not stop the shop
            now = time.monotonic()
            if now - self._last_failure_log > 60:
                self._last_failure_log = now
                log.warning("rate limits not enforced: Redis failed (%s: %s)", type(exc).__name__, exc)
            return None

    async def _hit(self, action, identifiers):
        for item in self.limits[action]:
            if not await self.window.hit(item, action, *identifiers):
                stats = await self.window.get_window_stats(item, action, *identifiers)
                return max(1, math.ceil(stats.reset_time - time.time()))
        return None

    async def check(self, action, *identifiers):
        """Raise TooManyRequests (429 / 50110 with Retry-After) when over the limit."""
        wait = await self.retry_after(action, *identifiers)
        if wait is not None:
            raise TooManyRequests(MESSAGES[action], wait)


def cluster_storage(url: str) -> tuple[str, dict]:
    """limits' URI and client options for the Redis Cluster of a `redis+cluster://` (or, with TLS,
    `rediss+cluster://`) URL."""
    scheme, rest = url.split("://", 1)
    if scheme not in CLUSTER_SCHEMES:
        raise ValueError(f"not a Redis Cluster URL: {scheme}://")
    return f"async+redis+cluster://{rest}", ({"ssl": True} if scheme == "rediss+cluster" else {})


def limiter_of(services) -> RateLimiter:
    """The process's limiter, made on first use over the process's Redis client."""
    limiter = getattr(services, "rate_limiter", None)
    if limiter is None:
        limiter = services.rate_limiter = RateLimiter(services.redis, services.config)
    return limiter
