"""``python -m alipay_sandbox --port 8090``: serve the local Alipay sandbox gateway."""
import argparse
import asyncio
import logging

from . import APP_ID, DEFAULT_HOST, DEFAULT_PORT


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m alipay_sandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--notify-scale", type=float, default=1.0,
                        help="multiplies Alipay's notify resend delays (4m, 10m, ... 15h); e.g. 0.01")
    parser.add_argument("--timestamp-tolerance", type=int, default=15 * 60,
                        help="seconds a request timestamp may differ from Shanghai time")
    parser.add_argument("--no-refund-notify", action="store_true",
                        help="do not notify notify_url after refunds (Alipay does)")
    return parser.parse_args(argv)


async def main(argv=None):
    args = parse_args(argv)
    from .server import start_sandbox
    sandbox = await start_sandbox(port=args.port, host=args.host, notify_scale=args.notify_scale,
                                  timestamp_tolerance=args.timestamp_tolerance,
                                  refund_notify=not args.no_refund_notify)
    logging.getLogger(__name__).info(
        "Alipay sandbox (DEVELOPMENT KEYS, app_id %s) at %s", APP_ID, sandbox.gateway_url)
    await asyncio.Event().wait()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
