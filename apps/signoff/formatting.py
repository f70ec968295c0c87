"""How times, durations, sizes and links are written on the pages (template filters)."""

from datetime import UTC, datetime
from urllib.parse import quote

# What Balrog's public endpoint is asked to show what a channel serves: a Windows Firefox.
_UPDATE_QUERY = "20250101000000/WINNT_x86_64-msvc-x64/en-US/{channel}/Windows_NT%2010.0"


def when(value, seconds: bool = False) -> str:
    """A moment in UTC, to the minute (or second): epoch seconds, ISO 8601 text or a datetime."""
    if value in (None, ""):
        return "-"
    if isinstance(value, (int, float)):
        moment = datetime.fromtimestamp(value, UTC)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        moment = value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    shape = "%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC"
    return moment.astimezone(UTC).strftime(shape)


def duration(seconds) -> str:
    """A length of time the way people say it: "2 d 3 h", "4 h 10 min", "45 s"."""
    seconds = max(int(seconds or 0), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min"
    return f"{seconds} s"


def filesize(size) -> str:
    """Bytes, with KiB or MiB beside them when that helps."""
    size = int(size or 0)
    if size >= 1024 * 1024:
        return f"{size:,} bytes ({size / 1024 / 1024:.1f} MiB)"
    if size >= 1024:
        return f"{size:,} bytes ({size / 1024:.1f} KiB)"
    return f"{size:,} bytes"


def seconds_since(value, now: float) -> float:
    """How long ago an ISO 8601 moment was, in seconds."""
    try:
        return now - datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return 0


class Links:
    """Addresses of Bugzilla and Balrog pages, built from settings and checked values only."""

    def __init__(self, config):
        self.bugzilla = config["BUGZILLA_URL"].rstrip("/")
        self.balrog_admin = config["BALROG_ADMIN_URL"].rstrip("/")
        self.balrog_public = config["BALROG_PUBLIC_URL"].rstrip("/")

    def bug(self, bug_id) -> str | None:
        """The bug's page, or None when the id is not a number."""
        try:
            return f"{self.bugzilla}/show_bug.cgi?id={int(bug_id)}"
        except (TypeError, ValueError):
            return None

    def release(self, name: str) -> str:
        """The Balrog release (its blob) in the admin API."""
        return f"{self.balrog_admin}/api/releases/{quote(str(name), safe='')}"

    def rules(self) -> str:
        """Every SystemAddons rule in the admin API."""
        return f"{self.balrog_admin}/api/rules?product=SystemAddons"

    def served(self, channel: str, firefox_version: str) -> str:
        """What Balrog's public endpoint serves a Windows Firefox of that version on a channel."""
        query = _UPDATE_QUERY.format(channel=quote(str(channel), safe=""))
        version = quote(str(firefox_version), safe="")
        return (
            f"{self.balrog_public}/update/3/SystemAddons/{version}/{query}"
            "/default/default/update.xml"
        )
