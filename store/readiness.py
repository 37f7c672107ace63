"""Can this process serve? MariaDB and Redis both answer (GET /readyz)."""
import asyncio

PROBE_TIMEOUT = 2.0  # seconds: a load balancer's probe must not hang on a frozen dependency


async def _mysql(services):
    async with services.pool.acquire() as conn:
        async with conn.cursor() as cur:
            await cur.execute("SELECT 1")


async def _redis(services):
    await services.redis.ping()


async def _probe(check, services):
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            await check(services)
        return "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"; say which
        return f"{type(exc).__name__}: {exc}"[:200]


async def dependencies(services) -> dict:
    """{"mysql": "ok" | the error, "redis": "ok" | the error}, both probed at once."""
    mysql, redis = await asyncio.gather(_probe(_mysql, services), _probe(_redis, services))
    return {"mysql": mysql, "redis": redis}
