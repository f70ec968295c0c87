"""Faults the stand-ins inject at random, at a given rate and seed, and the kinds added for it."""

import time

import pytest
import requests

from local_stack.standins.faults import FAULT_KINDS, FaultPlan
from tests.standins.test_bugzilla_standin import TRACKING_BUG, file_bug


def decisions(plan: FaultPlan, count: int) -> list[str | None]:
    return [plan.take("POST", "/rest/bug") for _ in range(count)]


def test_random_faults_follow_their_seed():
    first, second, other = FaultPlan(), FaultPlan(), FaultPlan()
    first.add_random(0.3, seed=7)
    second.add_random(0.3, seed=7)
    other.add_random(0.3, seed=8)

    drawn = decisions(first, 200)

    assert drawn == decisions(second, 200)
    assert drawn != decisions(other, 200)
    assert 30 <= sum(kind is not None for kind in drawn) <= 90
    assert set(drawn) - {None} <= set(FAULT_KINDS)


def test_random_faults_keep_to_their_methods_and_paths_and_are_counted():
    plan = FaultPlan()
    plan.add_random(1.0, seed=1, kinds=("error503",), methods=("POST",), path_regex="/rest/bug")

    assert plan.take("GET", "/rest/bug") is None
    assert plan.take("POST", "/rest/bug/1/comment") is None
    assert plan.take("POST", "/rest/bug") == "error503"
    assert plan.injected == {("error503", "write"): 1}


def test_a_scripted_fault_comes_before_random_ones_and_clear_stops_both():
    plan = FaultPlan()
    plan.add_random(1.0, seed=1, kinds=("error500",))
    plan.add("POST", "/rest/bug", "throttle429")

    assert decisions(plan, 2) == ["throttle429", "error500"]
    plan.clear()
    assert decisions(plan, 5) == [None] * 5


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"rate": 1.5}, "rate must be between 0 and 1"),
        ({"rate": 0.1, "kinds": ("timeout",)}, "unknown fault kind"),
        ({"rate": 0.1, "kinds": ()}, "at least one fault kind"),
        ({"rate": 0.1, "slow_seconds": 3600}, "slow_seconds must be"),
    ],
)
def test_random_faults_refuse_settings_that_make_no_sense(arguments, message):
    with pytest.raises(ValueError, match=message):
        FaultPlan().add_random(seed=1, **arguments)


def test_a_reset_connection_answers_nothing_and_files_nothing(
    bugzilla, bugzilla_url, bugzilla_session
):
    bugzilla.faults.add("POST", "/rest/bug", "connection_reset")

    with pytest.raises(requests.exceptions.ConnectionError):
        file_bug(bugzilla_session, bugzilla_url)

    # The server notes the request after the client has already seen the connection drop.
    deadline = time.monotonic() + 5
    while not bugzilla.requests and time.monotonic() < deadline:
        time.sleep(0.02)
    assert bugzilla.bugs == {}
    assert bugzilla.requests[-1] == ("POST", "/rest/bug", None)


def test_a_slow_answer_outlasts_the_client_and_its_write_lands_late(
    bugzilla, bugzilla_url, bugzilla_session
):
    bugzilla.faults.add_random(1.0, seed=1, kinds=("slow",), slow_seconds=1.0)

    started = time.monotonic()
    with pytest.raises(requests.exceptions.Timeout):
        bugzilla_session.post(f"{bugzilla_url}/bug", json=TRACKING_BUG, timeout=0.3)
    assert time.monotonic() - started < 1.0
    assert bugzilla.bugs == {}  # held: not done yet when the client gave up

    deadline = time.monotonic() + 5
    while not bugzilla.bugs and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [bug["alias"] for bug in bugzilla.bugs.values()] == [[TRACKING_BUG["alias"]]]
