"""The `dadashop` command of an installed service (`pip install .`).

    dadashop serve [--port N] [--processes N] [--demo] [--no-jobs]   the HTTP service (server.py)
    dadashop migrate                                                  apply the schema migrations, then exit
    dadashop sandbox [--port 8090] ...                                the local Alipay sandbox (development only)

Configuration comes from the environment (and `.env` in the working directory), as for server.py.
"""
import argparse
import asyncio
import logging
import sys

COMMANDS = {
    "serve": "run the HTTP service (options of server.py)",
    "migrate": "apply the schema migrations (sql/migrations) to DADASHOP_MYSQL_URL and exit",
    "sandbox": "run the local Alipay sandbox (development keys only)",
}


def log_to_stderr():
    # `serve` leaves logging to server.main, which sets it up its own way
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")


def migrate(argv):
    import pymysql

    import config as config_module
    import db
    argparse.ArgumentParser(prog="dadashop migrate", description=COMMANDS["migrate"]).parse_args(argv)
    log_to_stderr()
    try:
        config = config_module.load()
    except config_module.ConfigError as exc:
        raise SystemExit(f"error: {exc}")
    try:
        applied = db.apply_migrations(config.mysql)
    except pymysql.err.OperationalError as exc:
        raise SystemExit(f"error: cannot use MySQL/MariaDB at {config.mysql.url}: {exc.args[-1]}")
    for name in applied:
        print(f"migration applied: {name}")
    print(f"schema of {config.mysql.url} is up to date")


def sandbox(argv):
    from alipay_sandbox.__main__ import main as sandbox_main
    log_to_stderr()
    try:
        asyncio.run(sandbox_main(argv))
    except KeyboardInterrupt:
        pass


def serve(argv):
    import server
    server.main(argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        prog="dadashop", description="dadashop orders: the order and payment service",
        epilog="\n".join(f"  {name:<8} {help}" for name, help in COMMANDS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument("options", nargs=argparse.REMAINDER, help="options of the command (--help for them)")
    args = parser.parse_args(argv[:1])
    {"serve": serve, "migrate": migrate, "sandbox": sandbox}[args.command](argv[1:])


if __name__ == "__main__":
    main()
