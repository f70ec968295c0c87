"""Reading executions when the app is given the state machine's live alias, as deployed."""

from apps.signoff import create_app
from apps.signoff.local import local_settings
from apps.signoff.workflow import ExecutionReader, unqualified
from tests.signoff_app.conftest import sign_in

ALIAS = "arn:aws:states:us-east-1:123456789012:stateMachine:system-addons:live"


def test_an_alias_or_version_arn_names_the_whole_state_machine():
    reader = ExecutionReader(ALIAS, stepfunctions=None)

    assert reader.state_machine_arn == ALIAS.removesuffix(":live")
    assert unqualified(ALIAS.replace(":live", ":7")) == ALIAS.removesuffix(":live")
    assert reader.arn_of("example-fix-1") == (
        "arn:aws:states:us-east-1:123456789012:execution:system-addons:example-fix-1"
    )


def test_the_app_given_the_alias_shows_every_execution(stack, waiting_for_qa):
    settings = {**local_settings(stack), "STATE_MACHINE_ARN": f"{stack.state_machine_arn}:live"}
    client = create_app(settings).test_client()
    sign_in(client, "relman-reviewer@mozilla.com")

    listed = client.get("/executions/")
    shown = client.get(f"/executions/{waiting_for_qa.name}")

    assert waiting_for_qa.name in listed.text
    assert shown.status_code == 200 and "<svg" in shown.text


def test_the_reader_gives_the_current_definition_and_the_one_an_execution_ran(
    stack, waiting_for_qa
):
    reader = ExecutionReader(f"{stack.state_machine_arn}:live", stack.sfn)

    current = reader.definition()

    assert current == reader.definition_of(waiting_for_qa.arn)
    assert "RequestQaSignoff" in current["States"]
