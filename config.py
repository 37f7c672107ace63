"""Configuration from environment variables (the contract's table), with its defaults.

A `.env` file in the working directory (KEY=VALUE lines) is read first; real environment
variables win over it.
"""
import dataclasses
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
    # ---- abuse resistance (issue 12): limits, timeouts, proxy trust, listen address; docs/limits.md
    rate_limits: bool = True  # DADASHOP_RATE_LIMITS=0 turns every rate limit off (load tests from one address)
    # rate limits in the `limits` notation: "N/second|minute|hour|day", several joined by ";"
    limit_login_per_ip: str = "60/minute;600/hour"
    limit_login_per_account: str = "10/minute;60/hour"
    limit_register_per_ip: str = "20/minute;100/hour"
    limit_orders_per_buyer: str = "60/minute"  # create, pay and cancel together
    limit_bad_callbacks_per_ip: str = "30/minute"  # notifies/returns that do not verify
    max_concurrent_hashes: int = 2  # password hashes at once per process; more are answered 429
    max_body_bytes: int = 64 * 1024  # API JSON bodies
    max_notify_bytes: int = 32 * 1024  # Alipay notify bodies
    max_json_depth: int = 8
    idle_connection_timeout: float = 75.0  # seconds a keep-alive connection may sit idle
    body_timeout: float = 20.0  # seconds to receive a request body
    trust_proxy: bool = False  # use X-Forwarded-For / X-Real-IP (only behind a proxy that sets them)
    bind: str = ""  # listen address ("" = every interface)

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
    )
    config = dataclasses.replace(config, **abuse_settings(env))
    config.mysql  # validate the URL now, not at first use
    return config


# ---- abuse resistance (issue 12)

RATE_LIMIT_SETTINGS = {  # variable -> Config field
    "DADASHOP_LIMIT_LOGIN_PER_IP": "limit_login_per_ip",
    "DADASHOP_LIMIT_LOGIN_PER_ACCOUNT": "limit_login_per_account",
    "DADASHOP_LIMIT_REGISTER_PER_IP": "limit_register_per_ip",
    "DADASHOP_LIMIT_ORDERS_PER_BUYER": "limit_orders_per_buyer",
    "DADASHOP_LIMIT_BAD_CALLBACKS_PER_IP": "limit_bad_callbacks_per_ip",
}


def _flag(env, name, default):
    raw = (env.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be 0 or 1, got {raw!r}")


def _seconds(env, name, default):
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be > 0, got {raw!r}")
    return value


def _rate_limit(env, name, default):
    from limits import parse_many
    raw = (env.get(name) or "").strip() or default
    try:
        parse_many(raw)
    except ValueError:
        raise ConfigError(f"{name} must look like 10/minute or 10/minute;100/hour, got {raw!r}") from None
    return raw


def abuse_settings(env) -> dict:
    """The Config fields of rate limits, input bounds, timeouts, proxy trust and listen address."""
    settings = {field_name: _rate_limit(env, name, getattr(Config, field_name))
                for name, field_name in RATE_LIMIT_SETTINGS.items()}
    settings.update(
        rate_limits=_flag(env, "DADASHOP_RATE_LIMITS", True),
        max_concurrent_hashes=_int(env, "DADASHOP_MAX_CONCURRENT_HASHES", Config.max_concurrent_hashes, 1),
        max_body_bytes=_int(env, "DADASHOP_MAX_BODY_BYTES", Config.max_body_bytes, 1024),
        max_notify_bytes=_int(env, "DADASHOP_MAX_NOTIFY_BYTES", Config.max_notify_bytes, 1024),
        max_json_depth=_int(env, "DADASHOP_MAX_JSON_DEPTH", Config.max_json_depth, 2),
        idle_connection_timeout=_seconds(env, "DADASHOP_IDLE_TIMEOUT", Config.idle_connection_timeout),
        body_timeout=_seconds(env, "DADASHOP_BODY_TIMEOUT", Config.body_timeout),
        trust_proxy=_flag(env, "DADASHOP_TRUST_PROXY", False),
        bind=(env.get("DADASHOP_BIND") or "").strip(),
    )
    return settings


def _published_key(path) -> bool:
    """Whether the key file at `path` (any format) is one of the sandbox's published development keys:
    compared by RSA modulus, so a copy, another encoding or the other half of the pair still counts."""
    from alipay import signer
    try:
        modulus = signer.load_key_file(path).n
    except (OSError, ValueError, TypeError):
        return False  # unreadable: the Alipay client refuses it at start with its own message
    return modulus in {signer.load_key_file(p).n for p in (MERCHANT_PRIVATE_KEY_PATH, ALIPAY_PUBLIC_KEY_PATH)}


def production_problems(config: Config) -> list[str]:
    """What makes this configuration unsafe anywhere but the local sandbox: one line each."""
    problems = []
    if config.jwt_secret == DEV_JWT_SECRET:
        problems.append("DADASHOP_JWT_SECRET is the development secret (published in the repository): set a secret "
                        "of your own")
    if _published_key(config.alipay_app_private_key):
        problems.append("ALIPAY_APP_PRIVATE_KEY is the sandbox's published development key: set your app's "
                        "private key")
    if _published_key(config.alipay_public_key):
        problems.append("ALIPAY_PUBLIC_KEY is the sandbox's published development key (anyone could forge "
                        "payments): set Alipay's public key")
    if not config.admin_key:
        problems.append("DADASHOP_ADMIN_KEY is missing: set the merchant's key")
    return problems


def is_local_sandbox(config: Config) -> bool:
    """The local sandbox: its default gateway, or any gateway on this machine (tests, load runs)."""
    host = urlparse(config.alipay_gateway).hostname or ""
    return config.alipay_gateway == SANDBOX_GATEWAY or host in ("127.0.0.1", "localhost", "::1")


def check_safe_for_production(config: Config) -> list[str]:
    """Outside the local sandbox, the development secrets must not be used: the problems found
    (empty when fine, and always empty with the sandbox)."""
    return [] if is_local_sandbox(config) else production_problems(config)


def warn_about_development_values(config: Config):
    if config.jwt_secret == DEV_JWT_SECRET:
        log.warning("DADASHOP_JWT_SECRET is not set: using the development secret (never in production)")
    if config.alipay_gateway == SANDBOX_GATEWAY:
        log.warning("ALIPAY_GATEWAY is the local sandbox (%s) with its development keys", SANDBOX_GATEWAY)
