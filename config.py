"""Configuration from environment variables (the contract's table), with its defaults.

A `.env` file in the working directory (KEY=VALUE lines) is read first; real environment
variables win over it.
"""
import logging
import os
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import unquote, urlparse

from alipay_sandbox import (ALIPAY_PUBLIC_KEY_PATH, APP_ID as SANDBOX_APP_ID,
                            DEFAULT_GATEWAY as SANDBOX_GATEWAY, MERCHANT_PRIVATE_KEY_PATH)

log = logging.getLogger("dadashop.config")

DEV_JWT_SECRET = "dadashop-development-secret-change-me"


class ConfigError(Exception):
    """A configuration value that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class MySQLTarget:
    host: str
    port: int
    user: str
    password: str
    db: str

    @property
    def url(self):
        return f"mysql://{self.user}@{self.host}:{self.port}/{self.db}"


@dataclass(frozen=True)
class Config:
    port: int = 8000
    mysql_url: str = "mysql://root:@127.0.0.1:3306/dadashop"
    redis_url: str = "redis://127.0.0.1:6379/0"
    jwt_secret: str = DEV_JWT_SECRET
    admin_key: str | None = None
    public_url: str = ""
    freight: Decimal = Decimal("10.00")
    order_timeout: int = 1800
    alipay_app_id: str = SANDBOX_APP_ID
    alipay_app_private_key: str = str(MERCHANT_PRIVATE_KEY_PATH)
    alipay_public_key: str = str(ALIPAY_PUBLIC_KEY_PATH)
    alipay_gateway: str = SANDBOX_GATEWAY
    alipay_seller_id: str | None = None
    # background jobs: how often to look for overdue orders / unconfirmed payments / pending refunds
    sweep_interval: float = 30.0
    mysql_pool_size: int = 20
    extra: dict = field(default_factory=dict)
    # the original pages on origins of their own: who may call the API from a browser ("*" = anyone)
    cors_origins: tuple = ()
    # where Alipay sends the buyer's browser after paying ("" = our own result page); {order_id} is filled in
    return_url: str = ""

    @property
    def mysql(self) -> MySQLTarget:
        return parse_mysql_url(self.mysql_url)

    @property
    def base_url(self) -> str:
        """Where Alipay and browsers reach us (notify and return URLs)."""
        return (self.public_url or f"http://127.0.0.1:{self.port}").rstrip("/")


def parse_mysql_url(url: str) -> MySQLTarget:
    parts = urlparse(url)
    if parts.scheme not in ("mysql", "mariadb") or not parts.hostname or not parts.path.strip("/"):
        raise ConfigError(f"DADASHOP_MYSQL_URL must look like mysql://user:pass@host:port/db, got {url!r}")
    return MySQLTarget(host=parts.hostname, port=parts.port or 3306, user=unquote(parts.username or "root"),
                       password=unquote(parts.password or ""), db=parts.path.strip("/"))


def read_env_file(path=".env") -> dict:
    values = {}
    p = Path(path)
    if p.is_file():
        for line in p.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, _, value = line.partition("=")
                values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def _int(env, name, default, minimum=0):
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def load(environ=None, env_file=".env") -> Config:
    env = {**read_env_file(env_file), **(os.environ if environ is None else environ)}
    try:
        freight = Decimal(env.get("DADASHOP_FREIGHT") or "10.00").quantize(Decimal("0.01"))
    except InvalidOperation:
        raise ConfigError(f"DADASHOP_FREIGHT must be a decimal amount, got {env.get('DADASHOP_FREIGHT')!r}")
    if freight < 0:
        raise ConfigError("DADASHOP_FREIGHT must not be negative")
    config = Config(
        port=_int(env, "DADASHOP_PORT", 8000, 1),
        mysql_url=env.get("DADASHOP_MYSQL_URL") or Config.mysql_url,
        redis_url=env.get("DADASHOP_REDIS_URL") or Config.redis_url,
        jwt_secret=env.get("DADASHOP_JWT_SECRET") or DEV_JWT_SECRET,
        admin_key=env.get("DADASHOP_ADMIN_KEY") or None,
        public_url=env.get("DADASHOP_PUBLIC_URL") or "",
        freight=freight,
        order_timeout=_int(env, "DADASHOP_ORDER_TIMEOUT", 1800, 1),
        alipay_app_id=env.get("ALIPAY_APP_ID") or SANDBOX_APP_ID,
        alipay_app_private_key=env.get("ALIPAY_APP_PRIVATE_KEY") or str(MERCHANT_PRIVATE_KEY_PATH),
        alipay_public_key=env.get("ALIPAY_PUBLIC_KEY") or str(ALIPAY_PUBLIC_KEY_PATH),
        alipay_gateway=env.get("ALIPAY_GATEWAY") or SANDBOX_GATEWAY,
        alipay_seller_id=env.get("ALIPAY_SELLER_ID") or None,
        sweep_interval=float(env.get("DADASHOP_SWEEP_INTERVAL") or 30.0),
        mysql_pool_size=_int(env, "DADASHOP_MYSQL_POOL_SIZE", 20, 1),
        cors_origins=tuple(o.strip().rstrip("/") for o in (env.get("DADASHOP_CORS_ORIGINS") or "").split(",")
                           if o.strip()),
        return_url=env.get("DADASHOP_RETURN_URL") or "",
    )
    config.mysql  # validate the URL now, not at first use
    return config


def warn_about_development_values(config: Config):
    if config.jwt_secret == DEV_JWT_SECRET:
        log.warning("DADASHOP_JWT_SECRET is not set: using the development secret (never in production)")
    if config.alipay_gateway == SANDBOX_GATEWAY:
        log.warning("ALIPAY_GATEWAY is the local sandbox (%s) with its development keys", SANDBOX_GATEWAY)
