"""Time: naive UTC in the database, Asia/Shanghai for people and for Alipay."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    """Naive UTC, as stored in the database."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def shanghai_time_text(moment: datetime) -> str:
    """A stored (naive UTC) time as Asia/Shanghai `YYYY-MM-DD HH:MM:SS`."""
    return moment.replace(tzinfo=timezone.utc).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def from_shanghai_text(text) -> datetime | None:
    """Alipay's `yyyy-MM-dd HH:mm:ss` (Asia/Shanghai) as naive UTC; None when absent or malformed."""
    try:
        local = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)
    except (TypeError, ValueError):
        return None
    return local.astimezone(timezone.utc).replace(tzinfo=None)
