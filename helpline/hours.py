"""Opening hours, bank holidays and callback due times. Pure: no Flask or database."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPEC = re.compile(r"^\s*(\w{3})(?:-(\w{3}))?\s+(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class OpeningHours:
    """When staff work the queue. Datetimes in and out are naive UTC, as stored in the database."""

    days: frozenset[int]
    opens: time
    closes: time
    tz: ZoneInfo
    bank_holidays: holidays.HolidayBase

    @classmethod
    def parse(cls, spec: str, tz: str = "Europe/London", region: str = "GB-ENG") -> "OpeningHours":
        """Read "Mon-Fri 08:00-18:00"; region "GB-ENG" means the UK's England and Wales holidays."""
        match = _SPEC.match(spec)
        if not match:
            raise ValueError(f"opening hours {spec!r} are not like 'Mon-Fri 08:00-18:00'")
        first, last, oh, om, ch, cm = match.groups()
        a, b = DAY_NAMES.index(first.lower()), DAY_NAMES.index((last or first).lower())
        country, _, subdiv = region.partition("-")
        return cls(
            days=frozenset(range(a, b + 1)),
            opens=time(int(oh), int(om)),
            closes=time(int(ch), int(cm)),
            tz=ZoneInfo(tz),
            bank_holidays=holidays.country_holidays(country, subdiv=subdiv or None),
        )

    def _local(self, utc_naive: datetime) -> datetime:
        return utc_naive.replace(tzinfo=timezone.utc).astimezone(self.tz)

    @staticmethod
    def _utc(local: datetime) -> datetime:
        return local.astimezone(timezone.utc).replace(tzinfo=None)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.days and day not in self.bank_holidays

    def is_open(self, now: datetime) -> bool:
        local = self._local(now)
        return self.is_working_day(local.date()) and self.opens <= local.time() < self.closes

    def next_opening(self, now: datetime) -> datetime:
        """The start of the next open period (now itself when open)."""
        if self.is_open(now):
            return now
        local = self._local(now)
        day = local.date()
        if local.time() >= self.opens:
            day += timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return self._utc(datetime.combine(day, self.opens, self.tz))

    def add_open_time(self, now: datetime, duration: timedelta) -> datetime:
        """The moment `duration` of opening time has passed after now."""
        moment, left = self.next_opening(now), duration
        while True:
            local = self._local(moment)
            closing = self._utc(datetime.combine(local.date(), self.closes, self.tz))
            if moment + left <= closing:
                return moment + left
            left -= closing - moment
            moment = self.next_opening(closing)

    def can_meet(self, now: datetime, duration: timedelta) -> bool:
        """True when a callback due within `duration` can be made in the current open period."""
        return self.is_open(now) and self.add_open_time(now, duration) == now + duration

    def add_working_days(self, now: datetime, days: int) -> datetime:
        """Closing time of the `days`-th working day after today."""
        day = self._local(now).date()
        counted = 0
        while counted < days:
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        return self._utc(datetime.combine(day, self.closes, self.tz))

    def local_hhmm(self, moment: datetime) -> str:
        return self._local(moment).strftime("%H:%M")
