"""Private MariaDB and Redis for the fault tests (they stop and freeze them), one of each per run."""
import pytest

from tests.faults.harness import PrivateMariaDB, PrivateRedis


@pytest.fixture(scope="session")
def private_mariadb():
    instance = PrivateMariaDB()
    yield instance
    instance.close()


@pytest.fixture
def private_redis():
    instance = PrivateRedis()
    yield instance
    instance.close()
