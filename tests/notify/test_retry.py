"""Retry rules: which failures are retried, which are final, which need a look-up first; the backoff."""
from __future__ import annotations

from datetime import timedelta

import pytest

from helpline.notify import retry


@pytest.mark.parametrize("http_status, code, expect", [
    (400, 21610, retry.PERMANENT),   # unsubscribed (STOP): never again
    (400, 21211, retry.PERMANENT),   # invalid To
    (400, 21614, retry.PERMANENT),   # not a mobile
    (400, 21612, retry.PERMANENT),   # cannot route
    (400, 21408, retry.PERMANENT),   # region not enabled
    (400, 21617, retry.PERMANENT),   # body too long
    (400, None, retry.PERMANENT),    # the same request would be refused again
    (404, 20404, retry.PERMANENT),
    (429, 20429, retry.RETRY),       # rate limited
    (429, None, retry.RETRY),
    (400, 21611, retry.RETRY),       # From queue full: passes
    (401, 20003, retry.RETRY),       # credentials: an operator can fix them; the text waits
    (403, None, retry.RETRY),
    (500, None, retry.UNKNOWN),      # Twilio's own trouble: it may have created the message
    (502, None, retry.UNKNOWN),
    (503, None, retry.UNKNOWN),
    (None, None, retry.UNKNOWN),     # no response at all
])
def test_classify(http_status, code, expect):
    assert retry.classify(http_status, code) == expect


@pytest.mark.parametrize("attempts, rand, expect_seconds", [
    (1, 0.0, 30),
    (2, 0.0, 60),
    (3, 0.0, 120),
    (5, 0.0, 480),
    (8, 0.0, 3600),     # capped
    (60, 0.0, 3600),    # no overflow on a very long run
    (1, 1.0, 24),       # jitter takes off at most a fifth
    (8, 0.5, 3240),
])
def test_backoff_doubles_to_a_cap_with_bounded_jitter(attempts, rand, expect_seconds):
    delay = retry.backoff(attempts, base_seconds=30, cap_seconds=3600, rand=lambda: rand)
    assert delay == timedelta(seconds=expect_seconds)


def test_every_permanent_code_has_a_reason_and_none_is_also_transient():
    assert {21610, 21211, 21614, 21612, 21408} <= set(retry.PERMANENT_CODES)
    assert not set(retry.PERMANENT_CODES) & set(retry.TRANSIENT_CODES)
    assert all(reason for reason in retry.PERMANENT_CODES.values())
