"""What every handler shares, written once: the JSON envelope, the HTTP-status policy, body and
parameter parsing, the token check, and the one place where unexpected errors become a 500."""
import functools
import json
import logging

import tornado.httputil
import tornado.web

from handlers.urls import PAYMENT_RESULT
import metrics
from handlers.views import dumps
from logs import current_request_id, request_id_for
from store.auth import read_token
from store.errors import LOGIN_REQUIRED, TOO_LARGE, BusinessError, bad_params, login_required
from store.rate_limits import limiter_of
from store.unavailable import UNAVAILABLE, is_unavailable
from store.users import user_id_of

log = logging.getLogger("dadashop.http")

# what the pages send and may read across origins
CORS_ALLOWED_HEADERS = "authorization, content-type, Idempotency-Key, X-Request-Id"
CORS_EXPOSED_HEADERS = "X-Request-Id"
CORS_MAX_AGE = "600"  # seconds a browser may reuse a preflight answer


def authenticated(method):
    """Resolve the `authorization` token to `self.user` ({id, username}) before the method runs.

    A business answer raised before anything was written (50103 sold out, most of a flash sale's
    answers) is written here at once: the same answer as write_error gives, without Tornado's
    error path (which clears and sets every header again)."""
    @functools.wraps(method)
    async def wrapper(self, *args, **kwargs):
        try:
            self.user = await self.authenticate()
            return await method(self, *args, **kwargs)
        except BusinessError as exc:
            if self._headers_written or self._finished:
                raise
            self.answer_business_error(exc)
    return wrapper


@tornado.web.stream_request_body  # the body arrives after prepare(): its size is checked before it is read
class BaseHandler(tornado.web.RequestHandler):
    user = None
    _counted = False
    max_body_setting = "max_body_bytes"  # the Config field with this endpoint's body limit

    # ---- requests in flight, so that a graceful shutdown can wait for them
    def prepare(self):
        self.application.in_flight += 1
        self._counted = True
        self.limit_body_size()

    def on_finish(self):
        if self._counted:
            self.application.in_flight -= 1
            self._counted = False

    # ---- the process's shared resources (made at start by server.py), passed on to store/
    @property
    def services(self):
        return self.application.services

    @property
    def config(self):
        return self.application.services.config

    # ---- the envelope
    def set_default_headers(self):
        # (also run again by send_error's clear(): the id stays the request's own)
        if getattr(self, "request_id", None) is None:
            self.request_id = request_id_for(self.request.headers.get("X-Request-Id"))
            current_request_id.set(self.request_id)  # every log line of this request carries it
        self.set_header("X-Request-Id", self.request_id)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.set_cors_headers()

    # ---- CORS: the original pages are served from an origin of their own (DADASHOP_CORS_ORIGINS)
    def cors_origin(self):
        """The request's Origin when it may read our answers, else None. Alipay's notify never gets CORS."""
        origin = self.request.headers.get("Origin")
        allowed = self.application.services.config.cors_origins
        if not origin or not allowed or self.request.path.rstrip("/") == PAYMENT_RESULT.rstrip("/"):
            return None
        return origin if "*" in allowed or origin.rstrip("/") in allowed else None

    def set_cors_headers(self):
        self.set_header("Vary", "Origin")
        origin = self.cors_origin()
        if origin:
            self.set_header("Access-Control-Allow-Origin", origin)
            self.set_header("Access-Control-Expose-Headers", CORS_EXPOSED_HEADERS)

    def allowed_methods(self) -> list:
        """The methods this route answers (those its handler defines)."""
        return [m for m in ("GET", "POST", "PUT", "DELETE")
                if getattr(type(self), m.lower()) is not getattr(tornado.web.RequestHandler, m.lower())]

    def options(self, *args, **kwargs):
        """A preflight (or a plain OPTIONS): 204 with what the route allows; the CORS grant only for an
        allowed origin, so a foreign page's browser refuses to send the real request."""
        methods = self.allowed_methods()
        self.set_header("Allow", ", ".join(methods + ["OPTIONS"]))
        if self.cors_origin() and self.request.headers.get("Access-Control-Request-Method"):
            self.set_header("Access-Control-Allow-Methods", ", ".join(methods))
            self.set_header("Access-Control-Allow-Headers", CORS_ALLOWED_HEADERS)
            self.set_header("Access-Control-Max-Age", CORS_MAX_AGE)
        self.set_status(204)
        self.finish()

    def reply(self, payload: dict, status=200):
        if "errmsg" in payload:  # the original pages read the message as `error`
            payload.setdefault("error", payload["errmsg"])
        self.set_status(status)
        self.finish(dumps(payload))

    def ok(self, data=None, **extra):
        payload = {"code": 200}
        if data is not None:
            payload["data"] = data
        payload.update(extra)
        self.reply(payload)

    def ok_with_json(self, data_json: bytes, **extra):
        """ok() for data that is JSON already (shaped by MariaDB, or a cached page): written as it is."""
        tail = b"".join(b',"%s":%s' % (name.encode(), dumps(value).encode()) for name, value in extra.items())
        self.finish(b'{"code":200,"data":%s%s}' % (data_json, tail))

    def write_error(self, status_code, **kwargs):
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, BusinessError):
            self.answer_business_error(exc)
            return
        self.set_retry_after(exc)
        if is_unavailable(exc):
            # MariaDB or Redis down or too slow: a clean, retryable answer (contract "Additions")
            self.set_header("Retry-After", str(self.config.retry_after))
            self.reply({"code": UNAVAILABLE, "errmsg": "服务暂时不可用, 请稍后重试"}, 503)
        elif status_code >= 500:
            # the traceback went to the log under this id (log_exception); the body only points at it
            self.reply({"code": 500, "errmsg": "服务器内部错误, 请稍后重试",
                        "request_id": self.request_id}, status_code)
        else:
            reason = self._reason
            if status_code == 405:  # RFC 9110: say which methods the resource has
                self.set_header("Allow", ", ".join(self.allowed_methods() + ["OPTIONS"]))
            if isinstance(exc, tornado.web.HTTPError) and exc.log_message and status_code == 400:
                reason = exc.log_message % exc.args if exc.args else exc.log_message
            self.reply({"code": status_code, "errmsg": reason}, status_code)

    def answer_business_error(self, exc):
        self.set_retry_after(exc)
        metrics.business_answer(exc.code)
        payload = {"code": exc.code, "errmsg": exc.errmsg}
        if exc.data is not None:
            payload["data"] = exc.data
        self.reply(payload, exc.http_status)

    def compute_etag(self):
        # an answer that may not be stored needs no ETag (Tornado hashes every body for one)
        if self._headers.get("Cache-Control") == "no-store":
            return None
        return super().compute_etag()

    def log_exception(self, typ, value, tb):
        if isinstance(value, BusinessError):
            return
        if isinstance(value, tornado.web.HTTPError):
            return super().log_exception(typ, value, tb)
        if is_unavailable(value):  # one line, no traceback: the dependency is the problem, not the code
            log.warning("503 for %s %s: %s: %s", self.request.method, self.request.uri, typ.__name__, value)
            return
        log.error("request %s failed: %s %s", self.request_id, self.request.method, self.request.uri,
                  exc_info=(typ, value, tb))

    # ---- authentication
    async def authenticate(self) -> dict:
        header = self.request.headers.get("authorization", "").strip()
        if header[:7].lower() == "bearer ":
            header = header[7:].strip()
        claims = read_token(header, self.config.jwt_secret) if header else None
        if claims is None:
            raise login_required()
        username, user_id = claims
        if user_id is None:  # an older token without the id: look it up by name
            user_id = await user_id_of(self.services, username)
        if user_id is None:
            raise login_required()
        return {"id": user_id, "username": username}

    def check_own_username(self, username):
        """Paths that name a user (`/v1/users/<username>/...`) are for that user's own token only."""
        if username != self.user["username"]:
            raise BusinessError(LOGIN_REQUIRED, "无权访问其他用户的数据", http_status=403)

    # ---- bounded input (issue 12): body size before reading, JSON depth, rate limits, client address
    def limit_body_size(self):
        """Refuse a body over this endpoint's limit from its Content-Length, before reading it (413 /
        50109); a chunked body is cut off by the connection at the same limit."""
        limit = getattr(self.config, self.max_body_setting)
        if self.request.connection is not None:
            self.request.connection.set_max_body_size(limit)
        try:
            length = int(self.request.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0  # Tornado refuses a malformed Content-Length itself
        if length > limit:
            raise BusinessError(TOO_LARGE, f"请求体过大: 上限 {limit} 字节", http_status=413)

    def data_received(self, chunk):
        # kept in request.body as usual, so that handlers read it the ordinary way (bounded above)
        self.request.body += chunk

    def form_arguments(self) -> dict:
        """The form-encoded body's arguments (name -> [bytes]), as request.body_arguments would be."""
        arguments, files = {}, {}
        try:
            tornado.httputil.parse_body_arguments(self.request.headers.get("Content-Type", ""), self.request.body,
                                                  arguments, files, self.request.headers)
        except tornado.httputil.HTTPInputError:
            return {}  # malformed (e.g. multipart without a boundary): no arguments, as Tornado's own parsing
        return arguments

    def set_retry_after(self, exc):
        retry_after = getattr(exc, "retry_after", None)
        if retry_after:
            self.set_header("Retry-After", str(retry_after))

    @property
    def client_ip(self) -> str:
        """The client's address: the peer's, or the proxy's X-Real-IP/X-Forwarded-For only when the
        server trusts a proxy (DADASHOP_TRUST_PROXY=1: HTTPServer xheaders)."""
        return self.request.remote_ip or "unknown"

    async def rate_limit(self, action, *identifiers):
        """429 / 50110 with Retry-After when `identifiers` did `action` too often (store/rate_limits.py)."""
        await limiter_of(self.services).check(action, *identifiers)

    # ---- parsing
    def json_body(self) -> dict:
        if not hasattr(self, "_json_body"):
            raw = self.request.body or b"{}"
            try:
                body = json.loads(raw)
            except RecursionError:
                raise bad_params("请求体JSON嵌套过深") from None
            except (ValueError, UnicodeDecodeError):
                raise bad_params("请求体不是合法的JSON") from None
            depth_limit = self.config.max_json_depth
            # counting brackets is cheap and rules out deep nesting for almost every body
            if raw.count(b"[") + raw.count(b"{") > depth_limit and json_depth(body) > depth_limit:
                raise bad_params(f"请求体JSON嵌套过深: 最多 {depth_limit} 层")
            if not isinstance(body, dict):
                raise bad_params("请求体必须是JSON对象")
            self._json_body = body
        return self._json_body

    def body_int(self, name, **kw):
        return int_param(self.json_body().get(name), name, **kw)

    def body_str(self, name, **kw):
        return str_param(self.json_body().get(name), name, **kw)

    def query_int(self, name, **kw):
        return int_param(self.get_query_argument(name, None), name, **kw)

    def query_str(self, name, **kw):
        return str_param(self.get_query_argument(name, None), name, **kw)


def json_depth(value) -> int:
    """How deeply arrays and objects nest in a parsed JSON value (a scalar is 0), without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def int_param(value, name, *, required=True, default=None, minimum=None, maximum=None):
    """An integer parameter: a JSON integer or a string of digits (the original pages send both)."""
    if value is None or value == "":
        if required:
            raise bad_params(f"缺少参数 {name}")
        return default
    if isinstance(value, bool):
        raise bad_params(f"参数 {name} 必须是整数")
    if isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and text.lstrip("-").isdigit()) or len(text) > 18:
            raise bad_params(f"参数 {name} 必须是整数")
        value = int(text)
    elif not isinstance(value, int):
        raise bad_params(f"参数 {name} 必须是整数")
    if minimum is not None and value < minimum:
        raise bad_params(f"参数 {name} 不能小于 {minimum}")
    if maximum is not None and value > maximum:
        raise bad_params(f"参数 {name} 不能大于 {maximum}")
    return value


def str_param(value, name, *, required=True, default=None, max_length=255, min_length=1, pattern=None):
    if value is None or (isinstance(value, str) and value.strip() == ""):
        if required:
            raise bad_params(f"缺少参数 {name}")
        return default
    if not isinstance(value, str):
        raise bad_params(f"参数 {name} 必须是字符串")
    value = value.strip()
    if not (min_length <= len(value) <= max_length):
        raise bad_params(f"参数 {name} 长度应在 {min_length} 到 {max_length} 之间")
    if pattern is not None and not pattern.fullmatch(value):
        raise bad_params(f"参数 {name} 格式不正确")
    return value


class NotFoundHandler(BaseHandler):
    """Unknown URLs get the JSON envelope too."""

    def prepare(self):
        raise tornado.web.HTTPError(404)
