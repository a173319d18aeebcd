"""When `qunping run` starts a dead service again, and when it gives up on one."""

from qunping.operator.launcher import REFUSES_TO_START, RestartPolicy


def test_the_delay_doubles_with_each_death_at_start_up_to_the_cap() -> None:
    policy = RestartPolicy(first_delay=1, max_delay=5, give_up_after=10)

    delays = [policy.delay(deaths, returncode=1) for deaths in range(1, 6)]

    assert delays == [1, 2, 4, 5, 5]


def test_a_service_that_keeps_dying_at_start_is_given_up_on() -> None:
    policy = RestartPolicy(give_up_after=5)

    assert policy.delay(4, returncode=1) is not None
    assert policy.delay(5, returncode=1) is None
    assert policy.delay(5, returncode=-9) is None, "killed or exited, a death is a death"


def test_a_service_that_refuses_to_start_is_not_started_again() -> None:
    assert RestartPolicy().delay(1, returncode=REFUSES_TO_START) is None
