"""Configuration from environment variables (the contract's table), validated at start.

A `.env` file in the working directory is read first (python-dotenv: `KEY=VALUE` lines, quotes,
`export`, comments; values taken literally, no `${...}` expansion); real environment variables
win over it. An empty value counts as unset. Every variable is checked when the configuration is
loaded, and a bad one stops the start with one line naming it and what it accepts, e.g.
`DADASHOP_SWEEP_INTERVAL must be a number between 1 and 86400, got 'x'`.

`VARIABLES` is the one list of settings: name, `Config` field, what is allowed, and its parser.
"""
import ipaddress
import logging
import math
import os
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urlparse

from dotenv import dotenv_values

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
    # address to listen on ("" = every interface); DADASHOP_BIND
    bind: str = ""
    extra: dict = field(default_factory=dict)
    # the original pages on origins of their own: who may call the API from a browser ("*" = anyone)
    cors_origins: tuple = ()
    # where Alipay sends the buyer's browser after paying ("" = our own result page); {order_id} is filled in
    return_url: str = ""
    # faults (docs/faults.md): how long to wait for a dependency before answering 503 / 50111
    mysql_connect_timeout: float = 3.0    # seconds to open a MariaDB connection
    mysql_statement_timeout: float = 5.0  # MariaDB's max_statement_time; the client gives up 2 s later
    redis_timeout: float = 2.0            # seconds for a Redis connect or command
    retry_after: int = 2                  # the Retry-After of a 503
    drain_time: float = 20.0              # seconds a worker may take to finish its requests on SIGTERM
    log_format: str = "json"              # one JSON object per line; "text" for development
    metrics_public: bool = False          # /metrics for every client, not only loopback ones
    access_log: str = "all"               # "errors": only the access lines of 4xx/5xx answers
    event_loop: str = "uvloop"            # the workers' event loop: uvloop (8-15 % less CPU per order), or Python's own
    # ---- abuse resistance (issue 12): docs/limits.md
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

    @property
    def mysql(self) -> MySQLTarget:
        return parse_mysql_url(self.mysql_url)

    @property
    def base_url(self) -> str:
        """Where Alipay and browsers reach us (notify and return URLs)."""
        return (self.public_url or f"http://127.0.0.1:{self.port}").rstrip("/")


def mask_password(url: str) -> str:
    """The URL with the password of its user part, if any, replaced by ***."""
    return re.sub(r"(//[^:/@]*:)[^@/]*@", r"\1***@", url)


def parse_mysql_url(url: str) -> MySQLTarget:
    parts = urlparse(url)
    try:
        port = parts.port or 3306  # urlparse raises ValueError for a port that is not 0..65535
    except ValueError:
        port = None
    if parts.scheme not in ("mysql", "mariadb") or not parts.hostname or not parts.path.strip("/") or not port:
        raise ConfigError("DADASHOP_MYSQL_URL must look like mysql://user:pass@host:port/db, "
                          f"got {mask_password(url)!r}")
    return MySQLTarget(host=parts.hostname, port=port, user=unquote(parts.username or "root"),
                       password=unquote(parts.password or ""), db=parts.path.strip("/"))


# ---------------------------------------------------------------- parsers
# Each takes the raw text and returns the value, or raises ValueError; the message comes from
# the variable's `allowed` text, so the two can never disagree.

def integer(low, high):
    def parse(text):
        value = int(text)
        if not low <= value <= high:
            raise ValueError
        return value
    return parse, f"an integer between {low} and {high}"


def number(low, high):
    def parse(text):
        value = float(text)
        if not math.isfinite(value) or not low <= value <= high:
            raise ValueError
        return value
    return parse, f"a number between {low} and {high}"


def amount(low, high):
    def parse(text):
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise ValueError from None
        if not value.is_finite() or not Decimal(low) <= value <= Decimal(high) or value.as_tuple().exponent < -2:
            raise ValueError
        return value.quantize(Decimal("0.01"))
    return parse, f"an amount between {low} and {high} with at most 2 decimals"


def mysql_url(text):
    try:
        parse_mysql_url(text)
    except ConfigError:
        raise ValueError from None
    return text


def _url_parts(text):
    """urlparse, with the port checked now (`.port` raises ValueError outside 0..65535)."""
    parts = urlparse(text)
    if parts.port == 0:
        raise ValueError
    return parts


def redis_url(text):
    parts = _url_parts(text)
    db = parts.path.strip("/")
    if parts.scheme == "unix":
        ok = bool(parts.path)
    else:
        # redis+cluster: one seed node of a Redis Cluster (the contract allows one)
        ok = (parts.scheme in ("redis", "rediss", "redis+cluster", "rediss+cluster") and bool(parts.hostname)
              and (db == "" or db.isdigit()))
    if not ok:
        raise ValueError
    return text


def web_url(text):
    parts = _url_parts(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError
    return text


def origins(text):
    """Comma-separated origins (scheme://host[:port], no path), or * for any; as a tuple without trailing /."""
    found = tuple(o.strip().rstrip("/") for o in text.split(",") if o.strip())
    for origin in found:
        if origin != "*":
            parts = _url_parts(origin)
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
                raise ValueError
    return found


def return_page_url(text):
    parts = _url_parts(text.replace("{order_id}", "0"))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError
    return text


def secret(min_bytes):
    def parse(text):
        if len(text.encode()) < min_bytes:
            raise ValueError
        return text
    return parse, f"a secret of at least {min_bytes} bytes"


def matching(pattern):
    compiled = re.compile(pattern)

    def parse(text):
        if not compiled.fullmatch(text):
            raise ValueError
        return text
    return parse


def readable_file(text):
    if not os.path.isfile(text) or not os.access(text, os.R_OK):
        raise ValueError
    return text


def listen_address(text):
    try:
        ipaddress.ip_address(text)
    except ValueError:
        if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?", text):
            raise ValueError from None
    return text


def flag(text):
    value = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False,
             "off": False}.get(text.lower())
    if value is None:
        raise ValueError
    return value


def rate_limit(text):
    from limits import parse_many
    parse_many(text)  # ValueError when it is not the notation
    return text


@dataclass(frozen=True)
class Variable:
    name: str        # the environment variable
    field: str       # the Config field it sets
    allowed: str     # what it accepts, said in the error and in docs/operations.md
    parse: Callable[[str], object]
    is_secret: bool = False  # never repeated in an error message

    def shown(self, raw):
        """The value as an error message may repeat it: secrets by length, URL passwords masked."""
        if self.is_secret:
            return f"{len(raw.encode())} bytes"
        return repr(mask_password(raw))


def _var(name, config_field, parser, allowed=None, **kw):
    if isinstance(parser, tuple):  # integer/number/amount/secret say what they accept themselves
        parser, allowed = parser
    return Variable(name, config_field, allowed, parser, **kw)


VARIABLES = [
    _var("DADASHOP_PORT", "port", integer(1, 65535)),
    _var("DADASHOP_BIND", "bind", listen_address, "an IP address or host name to listen on"),
    _var("DADASHOP_MYSQL_URL", "mysql_url", mysql_url, "a URL like mysql://user:pass@host:port/db"),
    _var("DADASHOP_REDIS_URL", "redis_url", redis_url,
         "a URL like redis://host:port/db (or rediss://, unix://, redis+cluster://)"),
    _var("DADASHOP_JWT_SECRET", "jwt_secret", secret(32), is_secret=True),  # HS256: a key as long as the hash
    _var("DADASHOP_ADMIN_KEY", "admin_key", matching(r"\S{8,256}"), "8 to 256 characters without spaces",
         is_secret=True),
    _var("DADASHOP_PUBLIC_URL", "public_url", web_url, "an http:// or https:// URL without query"),
    # DECIMAL(10,2) in the database; freight is part of the order total
    _var("DADASHOP_FREIGHT", "freight", amount("0", "10000")),
    # Alipay refuses a payment deadline more than 15 days ahead
    _var("DADASHOP_ORDER_TIMEOUT", "order_timeout", integer(1, 15 * 86400)),
    # 0 would make every process sweep in a busy loop
    _var("DADASHOP_SWEEP_INTERVAL", "sweep_interval", number(1, 86400)),
    _var("DADASHOP_MYSQL_POOL_SIZE", "mysql_pool_size", integer(1, 1000)),
    # the original pages on origins of their own (docs/original-pages.md)
    _var("DADASHOP_CORS_ORIGINS", "cors_origins", origins,
         "comma-separated origins like https://shop.example.com (no path), or *"),
    _var("DADASHOP_RETURN_URL", "return_url", return_page_url,
         "an http:// or https:// URL ({order_id} is filled in)"),
    # faults (docs/faults.md): how long to wait for a dependency before answering 503 / 50111
    _var("DADASHOP_MYSQL_CONNECT_TIMEOUT", "mysql_connect_timeout", number(0.1, 600)),
    _var("DADASHOP_MYSQL_STATEMENT_TIMEOUT", "mysql_statement_timeout", number(0.1, 3600)),
    _var("DADASHOP_REDIS_TIMEOUT", "redis_timeout", number(0.05, 600)),
    _var("DADASHOP_RETRY_AFTER", "retry_after", integer(1, 3600)),
    _var("DADASHOP_DRAIN_TIME", "drain_time", number(1, 3600)),
    _var("DADASHOP_LOG_FORMAT", "log_format", matching(r"json|text"), "json or text"),
    _var("DADASHOP_ACCESS_LOG", "access_log", matching(r"all|errors"), "all or errors"),
    _var("DADASHOP_EVENT_LOOP", "event_loop", matching(r"uvloop|asyncio"), "uvloop or asyncio"),
    _var("DADASHOP_METRICS_PUBLIC", "metrics_public", flag, "1 or 0 (1: /metrics answers every client)"),
    _var("ALIPAY_APP_ID", "alipay_app_id", matching(r"[0-9]{1,32}"), "Alipay's app id: 1 to 32 digits"),
    _var("ALIPAY_APP_PRIVATE_KEY", "alipay_app_private_key", readable_file, "the path of a readable PEM file"),
    _var("ALIPAY_PUBLIC_KEY", "alipay_public_key", readable_file, "the path of a readable PEM or base64 file"),
    _var("ALIPAY_GATEWAY", "alipay_gateway", web_url, "an http:// or https:// URL without query"),
    _var("ALIPAY_SELLER_ID", "alipay_seller_id", matching(r"2088[0-9]{12}"), "16 digits starting with 2088"),
    # ---- abuse resistance (issue 12): docs/limits.md
    _var("DADASHOP_RATE_LIMITS", "rate_limits", flag, "1 or 0 (0: every rate limit off)"),
    *[_var(name, config_field, rate_limit, "a rate like 10/minute, or several like 10/minute;100/hour")
      for name, config_field in (("DADASHOP_LIMIT_LOGIN_PER_IP", "limit_login_per_ip"),
                                 ("DADASHOP_LIMIT_LOGIN_PER_ACCOUNT", "limit_login_per_account"),
                                 ("DADASHOP_LIMIT_REGISTER_PER_IP", "limit_register_per_ip"),
                                 ("DADASHOP_LIMIT_ORDERS_PER_BUYER", "limit_orders_per_buyer"),
                                 ("DADASHOP_LIMIT_BAD_CALLBACKS_PER_IP", "limit_bad_callbacks_per_ip"))],
    _var("DADASHOP_MAX_CONCURRENT_HASHES", "max_concurrent_hashes", integer(1, 64)),
    _var("DADASHOP_MAX_BODY_BYTES", "max_body_bytes", integer(1024, 16 * 1024 * 1024)),
    _var("DADASHOP_MAX_NOTIFY_BYTES", "max_notify_bytes", integer(1024, 16 * 1024 * 1024)),
    _var("DADASHOP_MAX_JSON_DEPTH", "max_json_depth", integer(2, 100)),
    _var("DADASHOP_IDLE_TIMEOUT", "idle_connection_timeout", number(1, 86400)),
    _var("DADASHOP_BODY_TIMEOUT", "body_timeout", number(1, 3600)),
    _var("DADASHOP_TRUST_PROXY", "trust_proxy", flag, "1 or 0 (1: behind a proxy that sets X-Forwarded-For)"),
]
PREFIXES = ("DADASHOP_", "ALIPAY_")
NOT_OURS = ("DADASHOP_TEST_",)  # the test suite's own variables


def read_env_file(path=".env") -> dict:
    """The KEY=VALUE pairs of a .env file ({} when there is none)."""
    if not Path(path).is_file():
        return {}
    return {key: value or "" for key, value in dotenv_values(path, interpolate=False).items()}


def load(environ=None, env_file=".env") -> Config:
    env = {**read_env_file(env_file), **(os.environ if environ is None else environ)}
    values = {}
    for variable in VARIABLES:
        raw = (env.get(variable.name) or "").strip()
        if not raw:
            continue  # unset or empty: the default
        try:
            values[variable.field] = variable.parse(raw)
        except ValueError:
            raise ConfigError(f"{variable.name} must be {variable.allowed}, got {variable.shown(raw)}") from None
    known = {variable.name for variable in VARIABLES}
    for name in sorted(env):
        if name.startswith(PREFIXES) and not name.startswith(NOT_OURS) and name not in known:
            log.warning("%s is not a setting of this service (a typo?): ignored", name)
    return Config(**values)


# ---- secure start-up (issue 12)

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
