"""The Bugzilla stand-in answers the workflow's REST calls as bugzilla.mozilla.org does."""

import pytest
import requests

from local_stack.standins.faults import FaultPlan

TRACKING_BUG = {
    "product": "Firefox",
    "component": "System Add-ons: Off-train Deployment",
    "summary": "Ship Picture-in-Picture 1.2 as a system add-on",
    "version": "unspecified",
    "type": "task",
    "description": "Release of pictureinpicture@mozilla.org 1.2 to Firefox 134 and later.",
    "whiteboard": "[go-faster-system-addon]",
    "alias": "sysaddon-pictureinpicture-1.2",
}


def file_bug(session, bugzilla_url, **changes) -> requests.Response:
    return session.post(f"{bugzilla_url}/bug", json={**TRACKING_BUG, **changes})


def assert_refused(response, status: int, code: int) -> dict:
    assert response.status_code == status, response.text
    error = response.json()
    assert error["error"] is True
    assert error["code"] == code
    return error


def test_filed_bug_is_new_with_its_description_as_comment_0(
    bugzilla, bugzilla_url, bugzilla_session
):
    response = file_bug(bugzilla_session, bugzilla_url)

    assert response.status_code == 200
    bug_id = response.json()["id"]
    assert bug_id == 1500000
    bug = bugzilla.bugs[bug_id]
    assert bug["status"] == "NEW"
    assert bug["alias"] == ["sysaddon-pictureinpicture-1.2"]
    assert bug["comments"][0]["count"] == 0
    assert bug["comments"][0]["text"] == TRACKING_BUG["description"]


def test_bug_is_found_by_number_and_by_alias(bugzilla_url, bugzilla_session):
    bug_id = file_bug(bugzilla_session, bugzilla_url).json()["id"]

    by_number = bugzilla_session.get(f"{bugzilla_url}/bug/{bug_id}").json()
    by_alias = bugzilla_session.get(f"{bugzilla_url}/bug/sysaddon-pictureinpicture-1.2").json()

    assert by_number == by_alias
    assert by_number["faults"] == []
    [bug] = by_number["bugs"]
    assert bug["id"] == bug_id
    assert bug["alias"] == ["sysaddon-pictureinpicture-1.2"]
    assert bug["whiteboard"] == "[go-faster-system-addon]"
    assert (bug["status"], bug["resolution"]) == ("NEW", "")
    assert "comments" not in bug


def test_search_finds_bugs_by_alias_ids_and_whiteboard(bugzilla_url, bugzilla_session):
    first = file_bug(bugzilla_session, bugzilla_url).json()["id"]
    second = file_bug(bugzilla_session, bugzilla_url, alias="sysaddon-webcompat-140.1").json()[
        "id"
    ]
    unrelated = file_bug(bugzilla_session, bugzilla_url, alias=None, whiteboard="").json()["id"]

    def found(**terms):
        response = bugzilla_session.get(f"{bugzilla_url}/bug", params=terms)
        return [bug["id"] for bug in response.json()["bugs"]]

    assert found(alias="sysaddon-webcompat-140.1") == [second]
    assert found(alias="no-such-alias") == []
    assert found(id=f"{first},{unrelated}") == [first, unrelated]
    assert found(whiteboard="[go-faster-system-addon]") == [first, second]


def test_request_without_api_key_must_log_in(bugzilla, bugzilla_url, session):
    response = session.post(f"{bugzilla_url}/bug", json=TRACKING_BUG)

    assert_refused(response, 401, 410)
    assert bugzilla.bugs == {}


def test_wrong_api_key_is_refused_without_being_echoed(bugzilla_url, bugzilla_api_key, session):
    wrong_key = "not-the-local-key-42"

    response = session.get(f"{bugzilla_url}/bug/1", headers={"X-BUGZILLA-API-KEY": wrong_key})

    error = assert_refused(response, 400, 306)
    assert error["message"].startswith("The API key you specified is invalid.")
    assert wrong_key not in response.text
    assert bugzilla_api_key not in response.text


def test_second_bug_with_same_alias_is_refused(bugzilla, bugzilla_url, bugzilla_session):
    first = file_bug(bugzilla_session, bugzilla_url).json()["id"]

    response = file_bug(bugzilla_session, bugzilla_url, summary="Another try")

    error = assert_refused(response, 400, 103)
    assert error["message"] == (
        f"The alias you entered, 'sysaddon-pictureinpicture-1.2', is already taken by bug {first}."
    )
    assert list(bugzilla.bugs) == [first]


def test_unknown_product_is_refused_as_not_enterable(bugzilla, bugzilla_url, bugzilla_session):
    response = file_bug(bugzilla_session, bugzilla_url, product="Firefox Nightly Extras")

    error = assert_refused(response, 401, 106)
    assert "'Firefox Nightly Extras' does not exist" in error["message"]
    assert bugzilla.bugs == {}


def test_unknown_component_is_refused_naming_product_and_component(bugzilla_url, bugzilla_session):
    response = file_bug(bugzilla_session, bugzilla_url, component="Add-ons Manager")

    error = assert_refused(response, 404, 51)
    assert (
        error["message"]
        == "There is no component named 'Add-ons Manager' in the 'Firefox' product."
    )


@pytest.mark.parametrize(
    ("field", "code"), [("product", 50), ("component", 105), ("version", 50), ("summary", 107)]
)
def test_bug_without_a_required_field_is_refused_naming_it(
    bugzilla, bugzilla_url, bugzilla_session, field, code
):
    response = file_bug(bugzilla_session, bugzilla_url, **{field: ""})

    error = assert_refused(response, 400, code)
    assert field in error["message"]
    assert bugzilla.bugs == {}


def test_unknown_bug_number_does_not_exist(bugzilla_url, bugzilla_session):
    response = bugzilla_session.get(f"{bugzilla_url}/bug/1499999")

    error = assert_refused(response, 404, 101)
    assert error["message"] == "Bug #1499999 does not exist."


def test_unused_alias_is_not_a_bug(bugzilla_url, bugzilla_session):
    response = bugzilla_session.get(f"{bugzilla_url}/bug/sysaddon-never-filed")

    assert_refused(response, 400, 100)


def test_comment_is_added_and_listed_after_the_description(bugzilla_url, bugzilla_session):
    bug_id = file_bug(bugzilla_session, bugzilla_url).json()["id"]

    added = bugzilla_session.post(
        f"{bugzilla_url}/bug/{bug_id}/comment", json={"comment": "QA signed off."}
    )
    listed = bugzilla_session.get(f"{bugzilla_url}/bug/{bug_id}/comment").json()

    assert added.status_code == 201
    comments = listed["bugs"][str(bug_id)]["comments"]
    assert [comment["text"] for comment in comments] == [
        TRACKING_BUG["description"],
        "QA signed off.",
    ]
    assert comments[1]["id"] == added.json()["id"]
    assert comments[1]["count"] == 1
    assert comments[1]["bug_id"] == bug_id
    assert listed["comments"] == {}


def test_empty_comment_is_refused(bugzilla, bugzilla_url, bugzilla_session):
    bug_id = file_bug(bugzilla_session, bugzilla_url).json()["id"]

    response = bugzilla_session.post(f"{bugzilla_url}/bug/{bug_id}/comment", json={"comment": " "})

    assert_refused(response, 400, 50)
    assert len(bugzilla.bugs[bug_id]["comments"]) == 1


def test_resolving_a_bug_reports_each_change_and_keeps_the_comment(
    bugzilla, bugzilla_url, bugzilla_session
):
    bug_id = file_bug(bugzilla_session, bugzilla_url).json()["id"]

    response = bugzilla_session.put(
        f"{bugzilla_url}/bug/sysaddon-pictureinpicture-1.2",
        json={
            "status": "RESOLVED",
            "resolution": "FIXED",
            "comment": {"body": "Shipped pictureinpicture@mozilla.org 1.2 to release."},
        },
    )

    assert response.status_code == 200
    [update] = response.json()["bugs"]
    assert update["id"] == bug_id
    assert update["alias"] == ["sysaddon-pictureinpicture-1.2"]
    assert update["changes"] == {
        "status": {"removed": "NEW", "added": "RESOLVED"},
        "resolution": {"removed": "", "added": "FIXED"},
    }
    bug = bugzilla.bugs[bug_id]
    assert (bug["status"], bug["resolution"], bug["is_open"]) == ("RESOLVED", "FIXED", False)
    assert bug["comments"][-1]["text"] == "Shipped pictureinpicture@mozilla.org 1.2 to release."


def test_resolving_without_resolution_is_refused(bugzilla, bugzilla_url, bugzilla_session):
    bug_id = file_bug(bugzilla_session, bugzilla_url).json()["id"]

    response = bugzilla_session.put(f"{bugzilla_url}/bug/{bug_id}", json={"status": "RESOLVED"})

    assert_refused(response, 400, 121)
    assert bugzilla.bugs[bug_id]["status"] == "NEW"


def test_unknown_status_is_refused(bugzilla_url, bugzilla_session):
    bug_id = file_bug(bugzilla_session, bugzilla_url).json()["id"]

    response = bugzilla_session.put(f"{bugzilla_url}/bug/{bug_id}", json={"status": "SHIPPED"})

    error = assert_refused(response, 404, 51)
    assert "SHIPPED" in error["message"]


@pytest.mark.parametrize(("kind", "status"), [("error500", 500), ("error503", 503)])
def test_server_error_fault_answers_before_filing_anything(
    bugzilla, bugzilla_url, bugzilla_session, kind, status
):
    bugzilla.faults.add("POST", "/rest/bug", kind)

    response = file_bug(bugzilla_session, bugzilla_url)

    assert response.status_code == status
    assert bugzilla.bugs == {}


def test_throttled_request_asks_to_retry_after_a_second(bugzilla, bugzilla_url, bugzilla_session):
    bugzilla.faults.add("POST", "/rest/bug", "throttle429")

    response = file_bug(bugzilla_session, bugzilla_url)

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert bugzilla.bugs == {}


def test_fault_is_injected_only_as_many_times_as_planned(bugzilla, bugzilla_url, bugzilla_session):
    bugzilla.faults.add("POST", r"/rest/bug", "error503", times=2)

    statuses = [file_bug(bugzilla_session, bugzilla_url).status_code for _ in range(3)]

    assert statuses == [503, 503, 200]


def test_fault_applies_to_its_method_and_whole_path_only(bugzilla, bugzilla_url, bugzilla_session):
    bug_id = file_bug(bugzilla_session, bugzilla_url).json()["id"]
    bugzilla.faults.add("PUT", r"/rest/bug/\d+", "error500")

    comment = bugzilla_session.post(
        f"{bugzilla_url}/bug/{bug_id}/comment", json={"comment": "Still testing."}
    )
    update = bugzilla_session.put(f"{bugzilla_url}/bug/{bug_id}", json={"whiteboard": "[qa+]"})

    assert (comment.status_code, update.status_code) == (201, 500)


def test_lost_response_files_the_bug_but_the_client_sees_a_connection_error(
    bugzilla, bugzilla_url, bugzilla_session
):
    bugzilla.faults.add("POST", "/rest/bug", "lost_response")

    with pytest.raises(requests.exceptions.ConnectionError) as lost:
        file_bug(bugzilla_session, bugzilla_url)

    assert not isinstance(lost.value, requests.exceptions.SSLError)
    assert "RemoteDisconnected" in repr(lost.value)
    assert [bug["alias"] for bug in bugzilla.bugs.values()] == [["sysaddon-pictureinpicture-1.2"]]
    assert bugzilla.requests[-1] == ("POST", "/rest/bug", None)


def test_retry_after_lost_response_finds_the_bug_by_alias(
    bugzilla, bugzilla_url, bugzilla_session
):
    bugzilla.faults.add("POST", "/rest/bug", "lost_response")
    with pytest.raises(requests.exceptions.ConnectionError):
        file_bug(bugzilla_session, bugzilla_url)

    retry = file_bug(bugzilla_session, bugzilla_url)
    lookup = bugzilla_session.get(f"{bugzilla_url}/bug/sysaddon-pictureinpicture-1.2")

    assert_refused(retry, 400, 103)
    [bug] = lookup.json()["bugs"]
    assert list(bugzilla.bugs) == [bug["id"]]


def test_requests_are_noted_with_their_status(bugzilla, bugzilla_url, bugzilla_session):
    file_bug(bugzilla_session, bugzilla_url)
    bugzilla_session.get(f"{bugzilla_url}/bug/1")

    assert bugzilla.requests == [("POST", "/rest/bug", 200), ("GET", "/rest/bug/1", 404)]


def test_fault_plan_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="unknown fault kind"):
        FaultPlan().add("POST", "/rest/bug", "timeout")


def test_cleared_fault_plan_injects_nothing():
    plan = FaultPlan()
    plan.add("*", ".*", "error500", times=5)

    plan.clear()

    assert plan.take("GET", "/rest/bug/1") is None
