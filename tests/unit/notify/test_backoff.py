import pytest

from services.notify.backoff import RetrySchedule


def test_delays_double_from_the_base_until_the_cap() -> None:
    schedule = RetrySchedule(base_seconds=2, max_seconds=30, jitter=0.5)

    ceilings = [schedule.delay_after(attempt, draw=lambda: 0.0) for attempt in range(1, 7)]

    assert ceilings == [2, 4, 8, 16, 30, 30]


def test_jitter_takes_at_most_its_share_off_each_delay() -> None:
    schedule = RetrySchedule(base_seconds=2, max_seconds=600, jitter=0.5)

    assert schedule.delay_after(3, draw=lambda: 1.0) == 4.0
    assert schedule.delay_after(3, draw=lambda: 0.5) == 6.0
    assert all(4.0 <= schedule.delay_after(3) <= 8.0 for _ in range(200))


def test_jittered_delays_differ_so_receivers_are_not_stampeded() -> None:
    schedule = RetrySchedule(base_seconds=2, jitter=0.5)

    assert len({schedule.delay_after(2) for _ in range(20)}) > 1


def test_the_schedule_gives_up_after_the_last_attempt() -> None:
    schedule = RetrySchedule(max_attempts=3)

    assert [schedule.gives_up_after(attempt) for attempt in (1, 2, 3)] == [False, False, True]


def test_attempts_count_from_one() -> None:
    with pytest.raises(ValueError):
        RetrySchedule().delay_after(0)
