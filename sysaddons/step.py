"""What every step's handler shares: the event the definition sends, and one log line per outcome.

The definition hands each Task the whole workflow state plus the execution and state names:
``{"workflow": $, "execution": $$.Execution.Id, "execution_name": $$.Execution.Name,
"state": $$.State.Name}`` (signoff tasks add ``task_token`` and ``role``).
"""

import functools
import time
from dataclasses import dataclass

from sysaddons import log
from sysaddons.errors import WorkflowError


@dataclass
class StepEvent:
    """One Task's input, as the definition shapes it."""

    workflow: dict
    execution: str
    execution_name: str
    state: str
    raw: dict

    @property
    def request(self) -> dict:
        """The release request the execution started with."""
        return self.workflow

    @property
    def checked(self) -> dict:
        """What the validation step established (add-on facts, names)."""
        return self.workflow["checked"]

    @property
    def bug_id(self) -> int | None:
        """The tracking bug, once a step has filed or found it."""
        bug = self.workflow.get("tracking_bug")
        return int(bug["id"]) if bug else None


def step(handler):
    """Wrap a step's handler: parse the event, tag the logs, log the outcome with its error."""

    @functools.wraps(handler)
    def handle(event, context):
        parsed = StepEvent(
            workflow=event.get("workflow") or {},
            execution=event.get("execution", ""),
            execution_name=event.get("execution_name", ""),
            state=event.get("state", ""),
            raw=event,
        )
        addon = parsed.workflow.get("addon") if isinstance(parsed.workflow, dict) else None
        log.bind(
            execution=parsed.execution_name,
            step=parsed.state or getattr(context, "function_name", ""),
            addon=addon.get("id") if isinstance(addon, dict) else None,
        )
        started = time.monotonic()
        try:
            result = handler(parsed, context)
        except WorkflowError as error:
            log.event(
                "step failed",
                level="ERROR",
                error=type(error).__name__,
                cause=str(error),
                duration_ms=_since(started),
            )
            raise
        except Exception as error:
            log.event(
                "step failed unexpectedly",
                level="ERROR",
                error=type(error).__name__,
                cause=str(error)[:500],
                duration_ms=_since(started),
            )
            raise
        log.event("step done", duration_ms=_since(started))
        return result

    return handle


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
