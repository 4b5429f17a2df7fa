"""The one retry policy, rule by rule (no server: the loop applying it is in test_faults)."""

from __future__ import annotations

import pytest
from urllib3.exceptions import NewConnectionError, ProtocolError, ReadTimeoutError

from netra_frames._retry import RETRY_STATUSES, RetryPolicy, backoff_delay, parse_retry_after

POLICY = RetryPolicy(max_retries=3, backoff_factor=0.5, max_backoff=4.0)


def _refused() -> NewConnectionError:
    try:
        raise NewConnectionError(None, "refused") from ConnectionRefusedError(111, "refused")
    except NewConnectionError as exc:
        return exc


@pytest.mark.parametrize("status", sorted(RETRY_STATUSES))
def test_5xx_are_retried_after_a_full_jitter_backoff(status: int) -> None:
    for attempt in range(3):
        delay = POLICY.delay(attempt, status=status)
        assert delay is not None and 0 <= delay <= min(4.0, 0.5 * 2**attempt)
    assert POLICY.delay(3, status=status) is None  # the budget is used up


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 301, 501, 505])
def test_other_statuses_are_never_retried(status: int) -> None:
    assert POLICY.delay(0, status=status) is None


def test_retry_after_of_a_5xx_is_honoured_and_capped() -> None:
    assert POLICY.delay(0, status=503, retry_after="1.5") == 1.5
    assert POLICY.delay(0, status=503, retry_after="3600") == 4.0
    junk = POLICY.delay(0, status=503, retry_after="soon")  # unusable: the backoff instead
    assert junk is not None and 0 <= junk <= 0.5


@pytest.mark.parametrize(
    "error",
    [
        ConnectionResetError(),
        ProtocolError("Connection broken: IncompleteRead"),
        ReadTimeoutError(None, "/", "read timed out"),
        ValueError("not JSON"),  # an undecodable body
    ],
)
def test_broken_exchanges_and_bodies_are_retried(error: BaseException) -> None:
    delay = POLICY.delay(1, error=error)
    assert delay is not None and 0 <= delay <= 1.0
    assert POLICY.delay(3, error=error) is None


def test_a_refused_connection_fails_at_once_on_loopback_only() -> None:
    assert POLICY.delay(0, error=_refused(), loopback=True) is None
    assert POLICY.delay(0, error=_refused(), loopback=False) is not None


def test_no_retries_means_one_attempt() -> None:
    none = RetryPolicy(max_retries=0, backoff_factor=0.5, max_backoff=4.0)
    assert none.delay(0, status=503) is None and none.delay(0, error=OSError()) is None


def test_backoff_and_retry_after_parsing() -> None:
    assert backoff_delay(0, 0.0, 5.0) == 0.0 and backoff_delay(-1, 1.0, 5.0) == 0.0
    assert all(0 <= backoff_delay(50, 1.0, 5.0) <= 5.0 for _ in range(50))
    assert parse_retry_after(" 2 ") == 2.0 and parse_retry_after("-3") == 0.0
    assert parse_retry_after("nan") is None and parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past
