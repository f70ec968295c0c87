"""Pending signoffs: the list, one signoff's page, and the approve and reject actions.

A signoff is addressed by its id (``<execution name>-<role>``); its task token stays in the
table and is dropped before anything is rendered. Deciding goes through
``sysaddons.signoffs.decide``, which records the decision once before Step Functions hears it.
"""

import re
import time

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from apps.signoff import audit
from apps.signoff.auth import login_required
from apps.signoff.formatting import seconds_since
from sysaddons import signoffs as store
from sysaddons.errors import RemoteUnavailable, SignoffNotDecidable

bp = Blueprint("signoffs", __name__)
SIGNOFF_ID = re.compile(r"^[A-Za-z0-9_.@+=-]{1,100}$")
MAX_REASON = 2000


@bp.get("/")
@login_required
def index():
    """List pending signoffs, those the reviewer may decide first, oldest first within each."""
    now = time.time()
    pending = [_for_page(item, now) for item in store.list_signoffs(store.PENDING, _table())]
    pending.sort(key=lambda item: (not item["may_decide"], item.get("requested_at", "")))
    return render_template("signoffs/index.html", signoffs=pending)


@bp.get("/<signoff_id>")
@login_required
def show(signoff_id: str):
    """Show everything needed to decide a signoff, and the forms to decide it."""
    return _render(_load(signoff_id))


@bp.post("/<signoff_id>/approve")
@login_required
def approve(signoff_id: str):
    """Approve a signoff; the waiting execution goes on."""
    return _decide(_load(signoff_id), approve=True, reason=request.form.get("reason", ""))


@bp.post("/<signoff_id>/reject")
@login_required
def reject(signoff_id: str):
    """Reject a signoff with a reason; the execution restores the test channel and stops."""
    item = _load(signoff_id)
    reason = request.form.get("reason", "").strip()

    problem = _reason_problem(reason)
    if problem:
        audit.record("refusal", signoff=item["signoff_id"], reason=problem)
        return _render(item, error=f"Not rejected: {problem}. Nothing was changed.", status=400)
    return _decide(item, approve=False, reason=reason)


def _decide(item: dict, approve: bool, reason: str):
    signoff_id, allow_self = item["signoff_id"], current_app.config["ALLOW_SELF_SIGNOFF"]
    try:
        store.check_may_decide(item, g.reviewer, allow_self)
    except SignoffNotDecidable as refusal:
        return _refuse(item, str(refusal), 403)
    try:
        decision = store.decide(
            signoff_id,
            g.reviewer,
            approve,
            reason,
            table_name=_table(),
            stepfunctions=current_app.extensions["signoff_stepfunctions"],
            allow_self=allow_self,
        )
    except SignoffNotDecidable as refusal:
        return _refuse(item, str(refusal), 409)
    except RemoteUnavailable as error:
        audit.record("refusal", signoff=signoff_id, reason="Step Functions unreachable")
        return _render(
            _load(signoff_id), error=f"{error}. Please try again in a moment.", status=503
        )

    audit.record(
        "decision",
        signoff=signoff_id,
        execution=item["execution_name"],
        role=item["role"],
        decision=decision["decision"],
        reason=decision["reason"],
    )
    flash(
        f"You {decision['decision']} {item['addon_name']} {item['version']} "
        f"({store.ROLES.get(item['role'], item['role'])}).",
        "success",
    )
    return redirect(url_for("signoffs.show", signoff_id=signoff_id), code=303)


def _reason_problem(reason: str) -> str:
    if not reason:
        return "a rejection needs a reason"
    if len(reason) > MAX_REASON:
        return f"the reason is longer than {MAX_REASON} characters"
    return ""


def _refuse(item: dict, why: str, status: int):
    audit.record("refusal", signoff=item["signoff_id"], reason=why)
    return _render(
        _load(item["signoff_id"]), error=f"Not decided: {why}. Nothing was changed.", status=status
    )


def _render(item: dict, error: str | None = None, status: int = 200):
    page = _for_page(item, time.time())
    return render_template("signoffs/show.html", signoff=page, error=error), status


def _load(signoff_id: str) -> dict:
    item = store.get(signoff_id, _table()) if SIGNOFF_ID.match(signoff_id) else None
    if item is None:
        abort(404, f"There is no signoff {signoff_id}.")
    return item


def _for_page(item: dict, now: float) -> dict:
    """The record as the pages show it: without its task token, with what the viewer may do."""
    page = {key: value for key, value in item.items() if key != "task_token"}
    try:
        store.check_may_decide(item, g.reviewer, current_app.config["ALLOW_SELF_SIGNOFF"])
        page["may_decide"], page["why_not"] = True, ""
    except SignoffNotDecidable as refusal:
        page["may_decide"], page["why_not"] = False, str(refusal)
    page["role_name"] = store.ROLES.get(item.get("role"), item.get("role"))
    page["waited_seconds"] = seconds_since(item.get("requested_at", ""), now)
    page["expires_in_seconds"] = int(item.get("expires_at", 0)) - now
    return page


def _table() -> str:
    return current_app.config["SIGNOFF_TABLE"]
