"""GET /healthz (the process is alive) and GET /readyz (it can serve: for load balancers)."""
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
