"""GET /healthz (the process is alive), GET /readyz (it can serve: for load balancers) and
GET /metrics (Prometheus, every worker's samples; loopback only unless configured public)."""
import ipaddress

import metrics
from handlers.base import BaseHandler
from store import readiness
from store.unavailable import UNAVAILABLE


class HealthHandler(BaseHandler):
    def get(self):
        """Alive: touches no dependency, so a MariaDB or Redis outage never gets workers restarted."""
        self.ok({"status": "alive"})


class ReadyHandler(BaseHandler):
    async def get(self):
        """200 when MariaDB and Redis answer and the process is not draining; else 503 saying why."""
        if self.application.draining:  # from the first moment of a shutdown: send traffic elsewhere
            return self.not_ready({"draining": True})
        checks = await readiness.dependencies(self.services)
        if any(result != "ok" for result in checks.values()):
            return self.not_ready(dict(checks, draining=False))
        self.ok(dict(checks, draining=False))

    def not_ready(self, data):
        self.set_header("Retry-After", str(self.config.retry_after))
        self.reply({"code": UNAVAILABLE, "errmsg": "服务暂时不可用", "data": data}, 503)


class MetricsHandler(BaseHandler):
    def get(self):
        if not metrics.enabled():
            return self.send_error(404)
        if not (self.config.metrics_public or ipaddress.ip_address(self.request.remote_ip).is_loopback):
            return self.send_error(403)
        self.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.finish(metrics.scrape())
