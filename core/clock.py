"""Time as the office sees it.

The office runs on Japan Standard Time (UTC+9, no daylight saving) [ext]. Every timestamp the
application records is an aware datetime in JST, whatever the host's time zone is, so off-hours
rules and 和暦 dates agree on every terminal.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Protocol

JST = timezone(timedelta(hours=9), "JST")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(JST)


class FixedClock:
    """A clock for tests and reproducible demos; ``advance`` moves it forward."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at.astimezone(JST)

    def now(self) -> datetime:
        return self._at

    def advance(self, delta: timedelta) -> None:
        self._at += delta


def today(clock: Clock) -> date:
    return clock.now().date()


def timestamp(moment: datetime) -> str:
    """The one textual form of a moment: ISO 8601 in JST with microseconds."""
    return moment.astimezone(JST).isoformat(timespec="microseconds")


def parse_timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(JST)
