"""Passwords (scrypt, salted, slow on purpose) and login tokens (JWT HS256)."""
import asyncio
import base64
import concurrent.futures
import hashlib
import hmac
import json
import multiprocessing
import os
import re
import signal
import time

import jwt

from store.errors import TooManyRequests

# scrypt cost: ~16 MiB and tens of milliseconds per hash, run off the event loop.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1
TOKEN_LIFETIME = 24 * 3600


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    encoded = [base64.b64encode(part).decode() for part in (salt, digest)]
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encoded[0]}${encoded[1]}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                                dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


HASH_PROCESS_NICENESS = 19


def _start_hashing_process():
    try:
        os.nice(HASH_PROCESS_NICENESS)
    except OSError:
        pass
    # a Ctrl-C or SIGTERM to the whole process group is the worker's to handle; the hashing
    # processes end with their pool when the worker exits
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


class HashSlots:
    """At most `limit` password hashes at once in this process; one more is refused at once
    (429), not queued.

    The hashes run in a few processes of their own at the lowest CPU priority, so a login flood
    uses only the CPU the order path leaves. Not threads: a low-priority thread that holds the GIL
    while the scheduler keeps it waiting stalls the event loop behind it (measured: the order rate
    fell to a fifth). The processes come from a fork server (started on first use, off the event
    loop), so they hold none of the service's sockets. One event loop per process, so a plain
    counter does.
    """

    def __init__(self):
        self.running = 0
        self._executor, self._workers, self._pid = None, 0, None

    def executor(self, limit):
        if self._pid != os.getpid():  # made before a fork: the pool's processes and threads are the parent's
            self._executor = None
        if self._executor is None or self._workers < limit:
            if self._executor is not None:
                self._executor.shutdown(wait=False)
            self._pid = os.getpid()
            context = multiprocessing.get_context("forkserver")
            self._executor = concurrent.futures.ProcessPoolExecutor(
                max_workers=limit, mp_context=context, initializer=_start_hashing_process)
            self._workers = limit
        return self._executor

    def refuse_if_full(self, limit):
        if self.running >= limit:
            raise TooManyRequests("系统繁忙, 请稍后再试", retry_after=1)

    async def run(self, limit, function, *args):
        self.refuse_if_full(limit)
        self.running += 1
        try:
            # submitted from a thread: a submit may start a process (the first one also the fork
            # server, which imports the service: about a second), never on the event loop
            executor = self.executor(limit)
            submitted = await asyncio.get_running_loop().run_in_executor(None, executor.submit, function, *args)
            return await asyncio.wrap_future(submitted)
        except concurrent.futures.process.BrokenProcessPool:
            self._executor = None  # a hashing process died (e.g. killed): start afresh next time
            raise
        finally:
            self.running -= 1


HASH_SLOTS = HashSlots()


async def hash_password_async(password, max_concurrent=2):
    return await HASH_SLOTS.run(max_concurrent, hash_password, password)


async def check_password_async(password, stored, max_concurrent=2):
    return await HASH_SLOTS.run(max_concurrent, check_password, password, stored)


def make_token(username: str, secret: str, lifetime: int = TOKEN_LIFETIME, *, user_id: int | None = None) -> str:
    """A login token: {"username", "exp"} as the contract says, plus the user's id ("uid") when
    known, so that a request needs no username lookup (a flash-sale buyer asks only once, and
    a per-process cache would always miss)."""
    payload = {"username": username, "exp": int(time.time()) + lifetime}
    if user_id is not None:
        payload["uid"] = user_id
    return jwt.encode(payload, secret, algorithm="HS256")


# Tokens whose signature was checked: (token, secret) -> (username, user id or None, exp). A
# buyer sends the same token with every request; checking its HMAC and parsing its JSON again each
# time was 5 % of a flash sale's CPU. An entry is only ever used before the token's own expiry.
VERIFIED_TOKENS_MAX = 50_000
_verified_tokens = {}

# The header of every token make_token issues, and the only claims it puts in. A token of exactly
# that shape is checked here directly (HMAC-SHA256 over header.payload, compared in constant time;
# `exp` in the future): a fifth of PyJWT's cost, which re-validates the key and each base64
# character in Python. Any other token (another header, other claims) goes through PyJWT, which
# the tests use as the oracle for this path.
OUR_HEADER = jwt.encode({}, "0" * 32, algorithm="HS256").split(".")[0]
OUR_CLAIMS = {"username", "exp", "uid"}
BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
NOT_OURS = object()


def _b64decode(segment):
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _payload_of_our_token(token, secret):
    """The payload of a valid, unexpired token of make_token's shape; None when invalid; NOT_OURS
    when it has another shape (PyJWT decides)."""
    header, _, rest = token.partition(".")
    if header != OUR_HEADER:
        return NOT_OURS
    payload_part, _, signature_part = rest.partition(".")
    if "=" in rest:  # padded segments (ours never are): PyJWT's rules for them
        return NOT_OURS
    if not (BASE64URL.fullmatch(payload_part) and BASE64URL.fullmatch(signature_part)):
        return None
    expected = hmac.new(secret.encode(), f"{header}.{payload_part}".encode(), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(expected, _b64decode(signature_part)):
            return None
        payload = json.loads(_b64decode(payload_part))
    except ValueError:  # binascii.Error and JSONDecodeError are ValueErrors
        return None
    if not isinstance(payload, dict) or not set(payload) <= OUR_CLAIMS:
        return NOT_OURS
    exp = payload.get("exp")
    if not isinstance(exp, int) or isinstance(exp, bool):
        return NOT_OURS  # PyJWT's rules for the rest (it takes a numeric string, for one)
    return payload if exp > time.time() else None


def read_token(token: str, secret: str) -> tuple[str, int | None] | None:
    """(username, user id or None) of a valid, unexpired token; None for anything else."""
    known = _verified_tokens.get((token, secret))
    if known is not None and known[2] > time.time():
        return known[0], known[1]
    payload = _payload_of_our_token(token, secret)
    if payload is NOT_OURS:
        try:
            payload = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp"]})
        except jwt.PyJWTError:
            return None
    if payload is None:
        return None
    username, user_id = payload.get("username"), payload.get("uid")
    if not isinstance(username, str) or not username:
        return None
    if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id < 1:
        user_id = None  # an older token, or none of ours: look the user up by name
    if len(_verified_tokens) >= VERIFIED_TOKENS_MAX:
        _verified_tokens.clear()  # simpler than LRU, and a refill costs one check per buyer
    _verified_tokens[(token, secret)] = (username, user_id, float(payload["exp"]))
    return username, user_id


def pay_link_signature(secret: str, order_id: str) -> str:
    """What authorises a pay link (a browser navigation, no token): an HMAC of the order id."""
    return hmac.new(secret.encode(), f"pay:{order_id}".encode(), hashlib.sha256).hexdigest()[:32]


def check_pay_link_signature(secret: str, order_id: str, sig: str) -> bool:
    # as bytes: compare_digest refuses a str with non-ASCII characters, which a forged link may hold
    return hmac.compare_digest(pay_link_signature(secret, order_id).encode(), (sig or "").encode())
