"""The workflow's definition and functions as the repository lays them out, rendered with ARNs."""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFINITION = ROOT / "state_machines" / "system_addons" / "definition.asl.json"
FUNCTIONS = ROOT / "apex" / "functions"
PROJECT = ROOT / "project.json"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z]+)FunctionArn\}")


def project_name() -> str:
    """The Apex project's name, which prefixes every deployed function's name."""
    return json.loads(PROJECT.read_text())["name"]


def function_folders() -> list[str]:
    """Every function's folder name under apex/functions/."""
    return sorted(path.parent.name for path in FUNCTIONS.glob("*/function.json"))


def placeholder_folder(placeholder: str) -> str:
    """The function folder a placeholder names: RequestSignoff -> request_signoff."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", placeholder).lower()


def render(function_arn) -> str:
    """The definition with each ``${NameFunctionArn}`` replaced by ``function_arn(folder)``."""
    text = DEFINITION.read_text()
    folders = set(function_folders())

    def replace(match: re.Match) -> str:
        folder = placeholder_folder(match.group(1))
        if folder not in folders:
            raise ValueError(
                f"the definition names {match.group(0)}, but apex/functions/{folder} is missing"
            )
        return function_arn(folder)

    return _PLACEHOLDER.sub(replace, text)


def local_function_arn(
    folder: str, region: str = "us-east-1", account: str = "123456789012"
) -> str:
    """The ARN a function gets when deployed with Apex: <project>_<folder>."""
    return f"arn:aws:lambda:{region}:{account}:function:{project_name()}_{folder}"
