"""Lambda functions: create or update code and settings, and publish a version when they change.

The state machine names published versions, never $LATEST, so each state machine version pins
the exact code it runs, and moving its alias back rolls the functions back with it.
"""

import base64
import hashlib
from pathlib import Path

from botocore.exceptions import ClientError

from deploy.config import FunctionConfig
from deploy.iam import retry_while_role_propagates
from deploy.plan import Plan

# The settings the deployer owns; anything else on a function (tags, layers...) is left alone.
_SETTINGS = ("Runtime", "Handler", "Role", "MemorySize", "Timeout", "Description", "Environment")


def code_sha256(zip_path: Path) -> str:
    """The CodeSha256 Lambda reports for a zip: base64 of its SHA-256."""
    return base64.b64encode(hashlib.sha256(zip_path.read_bytes()).digest()).decode()


def desired_settings(function: FunctionConfig) -> dict:
    """The function's settings as Lambda's API names them."""
    return {
        "Runtime": function.runtime,
        "Handler": function.handler,
        "Role": function.role,
        "MemorySize": function.memory,
        "Timeout": function.timeout,
        "Description": function.description,
        "Environment": {"Variables": dict(function.environment)},
    }


def _current_settings(configuration: dict) -> dict:
    settings = {key: configuration.get(key) for key in _SETTINGS}
    settings["Environment"] = {
        "Variables": dict((configuration.get("Environment") or {}).get("Variables") or {})
    }
    settings["Description"] = configuration.get("Description") or ""
    return settings


def _differences(current: dict, desired: dict) -> list[str]:
    """Which settings differ, in words; environment values are not shown, only their names."""
    changed = []
    for key in _SETTINGS:
        if current[key] == desired[key]:
            continue
        if key == "Environment":
            old, new = current[key]["Variables"], desired[key]["Variables"]
            names = sorted(name for name in set(old) | set(new) if old.get(name) != new.get(name))
            changed.append(f"environment {', '.join(names)}")
        elif key in ("MemorySize", "Timeout"):
            changed.append(f"{key} {current[key]} -> {desired[key]}")
        else:
            changed.append(key)
    return changed


def _get_configuration(lambda_client, name: str, qualifier: str | None = None) -> dict | None:
    try:
        arguments = {"FunctionName": name, **({"Qualifier": qualifier} if qualifier else {})}
        return lambda_client.get_function_configuration(**arguments)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            return None
        raise


def latest_version(lambda_client, name: str) -> dict | None:
    """The configuration of the function's highest published version, or None."""
    newest = None
    for page in lambda_client.get_paginator("list_versions_by_function").paginate(
        FunctionName=name
    ):
        for version in page["Versions"]:
            if version["Version"] == "$LATEST":
                continue
            if newest is None or int(version["Version"]) > int(newest["Version"]):
                newest = version
    return newest


def ensure_function(
    lambda_client,
    plan: Plan,
    function: FunctionConfig,
    zip_path: Path,
    *,
    publish: bool = True,
) -> str | None:
    """Bring the function to its zip and settings; answer the ARN to invoke it by.

    With ``publish`` that is the ARN of the published version holding exactly this code and
    these settings (a new one only when something changed). None in a dry run when the version
    does not exist yet. Versions keep the function's description: a version description would
    replace it, and the state machine version already says which commit was deployed.
    """
    sha = code_sha256(zip_path)
    desired = desired_settings(function)
    resource = f"function {function.name}"
    current = _get_configuration(lambda_client, function.name)

    if current is None:

        def create() -> str:
            created = retry_while_role_propagates(
                lambda: lambda_client.create_function(
                    FunctionName=function.name,
                    Code={"ZipFile": zip_path.read_bytes()},
                    Publish=publish,
                    **desired,
                )
            )
            lambda_client.get_waiter("function_active_v2").wait(FunctionName=function.name)
            return _qualified(created) if publish else created["FunctionArn"]

        return plan.change("create", resource, "version 1" if publish else "", create)

    code_changed = current["CodeSha256"] != sha
    setting_changes = _differences(_current_settings(current), desired)
    published = latest_version(lambda_client, function.name) if publish else None
    up_to_date = (
        published is not None
        and published["CodeSha256"] == sha
        and not _differences(_current_settings(published), desired)
    )
    if not code_changed and not setting_changes and (up_to_date or not publish):
        return _qualified(published) if publish else current["FunctionArn"]

    what = (["code"] if code_changed else []) + setting_changes
    if publish:
        what.append("publish a version" if not what else "publish")
    detail = ", ".join(what)

    def update() -> str:
        if code_changed:
            lambda_client.update_function_code(
                FunctionName=function.name, ZipFile=zip_path.read_bytes()
            )
            lambda_client.get_waiter("function_updated_v2").wait(FunctionName=function.name)
        if setting_changes:
            retry_while_role_propagates(
                lambda: lambda_client.update_function_configuration(
                    FunctionName=function.name, **desired
                )
            )
            lambda_client.get_waiter("function_updated_v2").wait(FunctionName=function.name)
        if not publish:
            return current["FunctionArn"]
        version = lambda_client.publish_version(FunctionName=function.name, CodeSha256=sha)
        return _qualified(version)

    return plan.change("update", resource, detail, update)


def _qualified(configuration: dict) -> str:
    """A version's ARN, whether the answer's FunctionArn carries the version or not."""
    arn, version = configuration["FunctionArn"], configuration["Version"]
    return arn if arn.endswith(f":{version}") else f"{arn}:{version}"
