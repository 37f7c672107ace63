"""A dependency (MariaDB, Redis) that is down or too slow: the contract's 503 / code 50111.

Such a request changed nothing — or, for a create, repeating it with the same Idempotency-Key
returns the order if it was made (docs/faults.md).
"""
import os

import pymysql
import redis

UNAVAILABLE = 50111

# MySQL client/server errors that say "the server did not answer (in time)", not "your SQL is wrong":
# can't connect (2002, 2003), server gone or lost mid-query (2006, 2013, 2055), lock waits and
# deadlocks that outlived our retries (1205, 1213), a statement stopped by max_statement_time
# (1969), a connection killed by the server (1927), the server shutting down (1053).
MYSQL_UNAVAILABLE = {1053, 1205, 1213, 1927, 1969, 2002, 2003, 2006, 2013, 2055}


# Redis errors of that kind: no connection, no answer in time, and a Redis Cluster between masters
# (a failover: the cluster is down, try again, a demoted master refusing writes, a slot not served)
REDIS_UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError, redis.exceptions.ClusterError,
                     redis.exceptions.TryAgainError, redis.exceptions.ReadOnlyError,
                     redis.exceptions.SlotNotCoveredError)


CLIENT_PACKAGES = ("redis", "aiomysql")  # the client libraries whose connections raised_inside_a_client knows


def raised_inside_a_client(exc) -> bool:
    """A connection torn down under a command, seen from inside a client library rather than as
    its own error, is the outage, not our bug:
    - redis-py's asyncio cluster client, while a master fails over, raises AttributeError from its
      connection code (`'NoneType' object has no attribute 'writelines'`): the innermost frame of
      the traceback is redis-py's;
    - under uvloop, a write to a transport closed meanwhile raises RuntimeError ("unable to perform
      operation on <TCPTransport closed=True ...>; the handler is closed"), where asyncio's own
      loop only logs: raised through a client's code (redis-py, aiomysql) it is that dependency's
      connection going away."""
    if not isinstance(exc, (AttributeError, RuntimeError)) or exc.__traceback__ is None:
        return False
    files = []
    tb = exc.__traceback__
    while tb is not None:
        files.append(tb.tb_frame.f_code.co_filename)
        tb = tb.tb_next
    if isinstance(exc, AttributeError):
        return f"{os.sep}redis{os.sep}" in files[-1]
    return "handler is closed" in str(exc) and any(
        f"{os.sep}{package}{os.sep}" in name for name in files for package in CLIENT_PACKAGES)


# what a best-effort Redis step may meet (it is logged and skipped): any Redis error, and the
# cluster client's own exceptions, which are not RedisErrors
REDIS_FAILURES = (redis.RedisError, redis.exceptions.RedisClusterException, OSError)


def is_unavailable(exc) -> bool:
    """True when `exc` means a dependency is down or too slow (answer 503), not a bug (500)."""
    if isinstance(exc, REDIS_UNAVAILABLE) or raised_inside_a_client(exc):
        return True
    if isinstance(exc, pymysql.err.InterfaceError):  # a connection closed under the request
        return True
    if isinstance(exc, pymysql.err.OperationalError):
        return bool(exc.args) and exc.args[0] in MYSQL_UNAVAILABLE
    return isinstance(exc, (ConnectionError, TimeoutError))
