"""Executions for release managers: the list, and one execution's picture and history."""

import re

from flask import Blueprint, abort, current_app, render_template
from markupsafe import Markup

from apps.signoff import graph, history
from apps.signoff.auth import login_required
from sysaddons import signoffs as store

bp = Blueprint("executions", __name__)
EXECUTION_NAME = re.compile(r"^[A-Za-z0-9_.@+=-]{1,80}$")


@bp.get("/")
@login_required
def index():
    """List the newest executions first, with status and the step each is at."""
    return render_template("executions/index.html", executions=_reader().recent())


@bp.get("/<name>")
@login_required
def show(name: str):
    """Show an execution: its workflow picture, links, signoffs and readable history."""
    execution = _reader().get(name) if EXECUTION_NAME.match(name) else None
    if execution is None:
        abort(404, f"There is no execution {name}.")

    table = current_app.config["SIGNOFF_TABLE"]
    signoffs = [store.get(store.signoff_id(name, role), table) for role in store.ROLES]
    signoffs = [_without_token(item) for item in signoffs if item]
    _mark_waiting(execution, signoffs)

    # draw_svg escapes every name and label it writes, so its text is safe to embed.
    picture = Markup(
        graph.draw_svg(
            execution.definition, execution.statuses, title=f"Workflow of execution {name}"
        )
    )
    return render_template(
        "executions/show.html",
        execution=execution,
        picture=picture,
        facts=_facts(execution),
        signoffs=signoffs,
    )


def _mark_waiting(execution, signoffs: list[dict]) -> None:
    """A pending signoff means its state waits, even before the history says so.

    The signoff is recorded during the task; the history notes the wait only once the task
    has returned, a moment later.
    """
    for item in signoffs:
        step = item.get("step")
        if item.get("status") == store.PENDING and execution.statuses.get(step) == graph.RUNNING:
            execution.statuses[step] = graph.WAITING


def _facts(execution) -> dict:
    """What the page names: add-on, bug, Balrog release and channels, the test rule's fate."""
    workflow, request = execution.workflow, execution.request
    addon = request.get("addon") if isinstance(request.get("addon"), dict) else {}
    bug = workflow.get("tracking_bug") or {}
    bugzilla = request.get("bugzilla") if isinstance(request.get("bugzilla"), dict) else {}
    test_channel = workflow.get("test_channel") or {}
    release = workflow.get("release") or {}
    checked = workflow.get("checked") or {}
    return {
        "addon": addon,
        "firefox_versions": request.get("firefox_versions") or [],
        "requested_by": request.get("requested_by", ""),
        "bug_id": bug.get("id") or bugzilla.get("bug_id"),
        "release_name": test_channel.get("release") or checked.get("release_name"),
        "test_channel": test_channel.get("channel"),
        "release_channel": release.get("channel"),
        "test_channel_outcome": history.test_channel_outcome(workflow),
    }


def _without_token(item: dict) -> dict:
    return {key: value for key, value in item.items() if key != "task_token"}


def _reader():
    return current_app.extensions["signoff_executions"]
