"""The help line's settled parts, built once at start-up: flows, hours and settings."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping

from .engine import Context, Flow
from .db import utcnow
from .hours import OpeningHours


@dataclass(frozen=True)
class Helpline:
    flows: Mapping[str, Flow]
    default_flow: str
    hours: OpeningHours
    urgent_callback: timedelta
    routine_days: int
    welfare_check: timedelta
    sms_idle: timedelta
    speech_confidence: float
    voice_name: str
    helpline_number: str
    clock: Callable[[], datetime]

    @classmethod
    def from_config(cls, config: Mapping[str, Any], flows: Mapping[str, Flow]) -> "Helpline":
        if config["DEFAULT_FLOW"] not in flows:
            raise RuntimeError(f"the default flow {config['DEFAULT_FLOW']!r} is not in {config['FLOWS_DIR']}")
        return cls(
            flows=flows,
            default_flow=config["DEFAULT_FLOW"],
            hours=OpeningHours.parse(config["OPENING_HOURS"], config["TIMEZONE"], config["BANK_HOLIDAYS"]),
            urgent_callback=timedelta(hours=config["URGENT_CALLBACK_HOURS"]),
            routine_days=config["ROUTINE_CALLBACK_DAYS"],
            welfare_check=timedelta(minutes=config["WELFARE_CHECK_MINUTES"]),
            sms_idle=timedelta(minutes=config["SMS_IDLE_MINUTES"]),
            speech_confidence=config["SPEECH_CONFIDENCE"],
            voice_name=config["VOICE_NAME"],
            helpline_number=config["HELPLINE_NUMBER"],
            clock=config.get("CLOCK") or utcnow,
        )

    def now(self) -> datetime:
        """Naive UTC now; tests pass their own clock in the CLOCK setting."""
        return self.clock()

    @property
    def flow(self) -> Flow:
        return self.flows[self.default_flow]

    def context(self, channel: str, now: datetime) -> Context:
        hours = self.urgent_callback.total_seconds() / 3600
        return Context(
            channel="voice" if channel == "voice" else "sms",
            d4_available=self.hours.can_meet(now, self.urgent_callback),
            variables={
                "callback_hours": f"{hours:g}",
                "routine_days": str(self.routine_days),
            },
        )
