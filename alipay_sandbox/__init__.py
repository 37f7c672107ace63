"""A local stand-in for Alipay's ``gateway.do``, following the same protocol.

Importing this package only defines the development identity below (the service uses it as
its configuration defaults); the server itself lives in ``alipay_sandbox.server`` and is
imported on first use of ``start_sandbox`` / ``make_app`` / ``Sandbox`` / ``SandboxState``.
Run it with ``python -m alipay_sandbox --port 8090``.
"""
import os

# Development identity of the sandbox merchant. DEVELOPMENT KEYS: never use in production.
APP_ID = "2021000000000000"
SELLER_ID = "2088000000000000"

_KEYS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dev_keys")
MERCHANT_PRIVATE_KEY_PATH = os.path.join(_KEYS, "DEV_ONLY_merchant_app_private_key.pem")
MERCHANT_PUBLIC_KEY_PATH = os.path.join(_KEYS, "DEV_ONLY_merchant_app_public_key.pem")
ALIPAY_PRIVATE_KEY_PATH = os.path.join(_KEYS, "DEV_ONLY_alipay_private_key.pem")
ALIPAY_PUBLIC_KEY_PATH = os.path.join(_KEYS, "DEV_ONLY_alipay_public_key.pem")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8090
DEFAULT_GATEWAY = "http://%s:%d/gateway.do" % (DEFAULT_HOST, DEFAULT_PORT)

_LAZY = ("start_sandbox", "make_app", "Sandbox", "SandboxState", "SandboxError", "Trade")


def __getattr__(name):
    # Keep `from alipay_sandbox import APP_ID` free of tornado and of the server code.
    if name in _LAZY:
        from . import server
        return getattr(server, name)
    raise AttributeError(name)
