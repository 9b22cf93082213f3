"""Times as the clinic reads them: in the site's time zone, with the zone, to the minute (issue 20.2).

The registry stores two kinds of time: audit entries, signatures, waivers and `recorded_at` stamps are naive
UTC (domain `utcnow`), while clinic-local facts (when an administration was given) are naive local times in
the site's zone, as entered. Every screen formats both through one `SiteClock`, so a sign-in shown in the
audit trail and the "now" an administration form starts with read the same, whatever the machine's zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from registry_app.services.context import ServiceContext


@dataclass(frozen=True)
class SiteClock:
    """Converts and formats times for one site's zone."""

    zone: tzinfo

    def local(self, stored_utc: datetime) -> datetime:
        """An aware local time from a stored naive-UTC (or aware) time."""
        aware = stored_utc if stored_utc.tzinfo else stored_utc.replace(tzinfo=UTC)
        return aware.astimezone(self.zone)

    def show_utc(self, stored_utc: datetime | None, *, seconds: bool = False) -> str:
        """A stored UTC time as "2026-12-04 17:28 KST" (seconds only where the audit needs them)."""
        if stored_utc is None:
            return ""
        return self._text(self.local(stored_utc), seconds)

    def show_local(self, local: datetime | None, *, seconds: bool = False) -> str:
        """A stored site-local time (naive, as entered) with the zone it was entered in."""
        if local is None:
            return ""
        return self._text(local if local.tzinfo else local.replace(tzinfo=self.zone), seconds)

    def now(self) -> datetime:
        """The site's wall-clock time now, naive (as local times are stored and entered)."""
        return datetime.now(self.zone).replace(tzinfo=None)

    def zone_name(self) -> str:
        """The zone's abbreviation now (KST, CET or CEST), or its offset (+09) when it has none."""
        moment = datetime.now(self.zone)
        return moment.tzname() or moment.strftime("%z")

    @staticmethod
    def _text(moment: datetime, seconds: bool) -> str:
        zone = moment.tzname() or moment.strftime("%z")
        return moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M") + f" {zone}"


def machine_zone() -> tzinfo:
    """The zone this computer runs in (read at each call: a test may change TZ)."""
    zone = datetime.now().astimezone().tzinfo
    assert zone is not None
    return zone


def zone_by_name(name: str | None) -> tzinfo:
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass  # a zone the tz database of this machine lacks: the machine's own is the better guess
    return machine_zone()


def site_clock(ctx: ServiceContext) -> SiteClock:
    """The clock of the signed-in site: its time zone setting, else the machine's zone."""
    from registry_app.services.sites import site_info

    return SiteClock(zone_by_name(site_info(ctx).get("time_zone")))


def site_today(ctx: ServiceContext) -> date:
    """Today at the signed-in site (issue 23): what expiry, the 15 days to report and the dates a record defaults
    to are counted from. A clinic in Seoul and one in New York on the same server are a day apart for hours."""
    return site_clock(ctx).now().date()
