"""The Redis client a process uses: one server (`redis://host:port/db`) or a Redis Cluster
(`redis+cluster://host:port`, any one node as the seed; `rediss+cluster://` with TLS).

Every multi-key operation of the service is slot-safe (a buyer's keys share a hash tag, sold-out
marks are read key by key), so the same code runs on both.
"""
import redis
import redis.asyncio
import redis.asyncio.cluster

CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


def is_cluster(url: str) -> bool:
    return url.split("://", 1)[0] in CLUSTER_SCHEMES


def is_cluster_client(client) -> bool:
    """Whether `client` talks to a Redis Cluster (scripts there may touch one slot only)."""
    return isinstance(client, redis.asyncio.cluster.RedisCluster)


def plain_url(url: str) -> str:
    """The URL redis-py understands: the cluster marker taken out of the scheme."""
    scheme, rest = url.split("://", 1)
    return f"{CLUSTER_SCHEMES.get(scheme, scheme)}://{rest}"


async def connect(url: str, **options):
    """An asyncio client, ready before the first request: a cluster client has learnt the slot
    map (a cold client answering MOVED mid-sale would close connections in use)."""
    if is_cluster(url):
        client = redis.asyncio.cluster.RedisCluster.from_url(plain_url(url), decode_responses=True, **options)
        await client.initialize()
        return client
    return redis.asyncio.Redis.from_url(url, decode_responses=True, **options)


def sync_client(url: str, **options):
    """A synchronous client of one server or of a cluster (tools and load scripts)."""
    if is_cluster(url):
        return redis.RedisCluster.from_url(plain_url(url), **options)
    return redis.Redis.from_url(url, **options)


def ping(url: str, timeout: float = 3):
    """Synchronously check that Redis answers (start-up); raises redis.RedisError when it does not."""
    client = sync_client(url, socket_connect_timeout=timeout)
    try:
        client.ping()
    finally:
        client.close()
