"""The signoff app's settings, from its environment or a dict, checked before the app starts.

Environment variables (all strings; flags are true/false):

- ``SIGNOFF_TABLE``: the DynamoDB table of signoffs. ``STATE_MACHINE_ARN``: the workflow.
- ``AUTH_MODE``: ``oidc`` (default) or ``dev``. ``DEV_USERS_FILE``: users and roles for dev.
- ``OIDC_ISSUER``, ``OIDC_CLIENT_ID``, ``OIDC_CLIENT_SECRET_SECRET`` (a ``sysaddons.secrets``
  reference such as ``ssm:/signoff/oidc-client-secret``, never the value).
- ``ROLE_MAPPING``: JSON object from an email address or a group to a list of roles
  (qa, relman, admin). ``OIDC_GROUPS_CLAIM``: the ID token claim that lists groups.
- ``SECRET_KEY_SECRET``: reference to the key that signs session cookies.
- ``SESSION_LIFETIME_SECONDS`` (default 8 hours), ``ALLOW_SELF_SIGNOFF`` (default false).
- ``BUGZILLA_URL``, ``BALROG_ADMIN_URL``, ``BALROG_PUBLIC_URL``: where links point.
- ``COOKIE_SECURE`` (default true), ``LOCAL_STACK`` (default false).

Dev login cannot be switched on by accident in production, by three separate locks:

1. ``check`` refuses to start the app with ``AUTH_MODE=dev`` unless ``LOCAL_STACK=true`` and
   ``COOKIE_SECURE=false`` are set too, and refuses ``COOKIE_SECURE=false`` off the local
   stack; a deployed app has secure cookies, so it cannot have dev login.
2. ``production_settings`` (used by the Lambda entry point) accepts ``AUTH_MODE=oidc`` only
   and refuses ``LOCAL_STACK``.
3. The dev login pages answer 404 to any request that is not from a loopback address or
   that came through a proxy or API Gateway.
"""

import json
import os
from pathlib import Path

from sysaddons.errors import ConfigurationError
from sysaddons.secrets import read_secret

ROLES = ("qa", "relman", "admin")
AUTH_MODES = ("oidc", "dev")
DEV_USERS_FILE = Path(__file__).resolve().parent / "dev_users.json"
DEFAULTS = {
    "AUTH_MODE": "oidc",
    "LOCAL_STACK": False,
    "COOKIE_SECURE": True,
    "SESSION_LIFETIME_SECONDS": 8 * 3600,
    "ALLOW_SELF_SIGNOFF": False,
    "ROLE_MAPPING": {},
    "OIDC_GROUPS_CLAIM": "groups",
    "BUGZILLA_URL": "https://bugzilla.mozilla.org",
    "BALROG_ADMIN_URL": "https://aus4-admin.mozilla.org",
    "BALROG_PUBLIC_URL": "https://aus5.mozilla.org",
}
_TEXT = (
    "SIGNOFF_TABLE",
    "STATE_MACHINE_ARN",
    "AUTH_MODE",
    "DEV_USERS_FILE",
    "OIDC_ISSUER",
    "OIDC_CLIENT_ID",
    "OIDC_CLIENT_SECRET_SECRET",
    "OIDC_GROUPS_CLAIM",
    "SECRET_KEY_SECRET",
    "BUGZILLA_URL",
    "BALROG_ADMIN_URL",
    "BALROG_PUBLIC_URL",
)
_FLAGS = ("ALLOW_SELF_SIGNOFF", "COOKIE_SECURE", "LOCAL_STACK")


def from_environment(environ=None) -> dict:
    """The settings named in this module's docstring, read from the environment."""
    environ = os.environ if environ is None else environ
    settings = {name: environ[name].strip() for name in _TEXT if environ.get(name, "").strip()}
    for name in _FLAGS:
        if environ.get(name, "").strip():
            settings[name] = _flag(name, environ[name])
    if environ.get("SESSION_LIFETIME_SECONDS", "").strip():
        settings["SESSION_LIFETIME_SECONDS"] = _number(environ["SESSION_LIFETIME_SECONDS"])
    if environ.get("ROLE_MAPPING", "").strip():
        settings["ROLE_MAPPING"] = _role_mapping(environ["ROLE_MAPPING"])
    return settings


def production_settings(environ=None) -> dict:
    """Settings for a deployed app: OpenID Connect only, secrets read from their stores."""
    settings = {**DEFAULTS, **from_environment(environ)}
    if settings["AUTH_MODE"] != "oidc" or settings["LOCAL_STACK"]:
        raise ConfigurationError(
            "a deployed signoff app signs people in with OpenID Connect only: "
            "set AUTH_MODE=oidc and leave LOCAL_STACK unset"
        )
    return resolve_secrets(settings)


def resolve_secrets(settings: dict) -> dict:
    """Read SECRET_KEY and OIDC_CLIENT_SECRET from their references, unless already given."""
    settings = dict(settings)
    if not settings.get("SECRET_KEY") and settings.get("SECRET_KEY_SECRET"):
        settings["SECRET_KEY"] = read_secret(settings["SECRET_KEY_SECRET"])
    if (
        settings.get("AUTH_MODE") == "oidc"
        and not settings.get("OIDC_CLIENT_SECRET")
        and settings.get("OIDC_CLIENT_SECRET_SECRET")
    ):
        settings["OIDC_CLIENT_SECRET"] = read_secret(settings["OIDC_CLIENT_SECRET_SECRET"])
    return settings


def check(settings: dict) -> None:
    """Refuse settings the app must not run with; the message names the setting."""
    for name in ("SIGNOFF_TABLE", "STATE_MACHINE_ARN", "SECRET_KEY"):
        if not settings.get(name):
            hint = " (or SECRET_KEY_SECRET)" if name == "SECRET_KEY" else ""
            raise ConfigurationError(f"setting {name}{hint} is missing")
    mode = settings.get("AUTH_MODE")
    if mode not in AUTH_MODES:
        raise ConfigurationError(f"AUTH_MODE must be one of {', '.join(AUTH_MODES)}, not {mode!r}")
    if not settings.get("LOCAL_STACK") and not settings.get("COOKIE_SECURE"):
        raise ConfigurationError("COOKIE_SECURE=false is allowed on the local stack only")
    if mode == "dev" and (not settings.get("LOCAL_STACK") or settings.get("COOKIE_SECURE")):
        raise ConfigurationError(
            "AUTH_MODE=dev needs LOCAL_STACK=true and COOKIE_SECURE=false: dev login is for "
            "the local stack, never for a deployed app"
        )
    if mode == "oidc":
        for name in ("OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET"):
            if not settings.get(name):
                hint = " (or OIDC_CLIENT_SECRET_SECRET)" if name == "OIDC_CLIENT_SECRET" else ""
                raise ConfigurationError(f"setting {name}{hint} is missing for AUTH_MODE=oidc")
    for key, roles in settings.get("ROLE_MAPPING", {}).items():
        _check_roles(f"ROLE_MAPPING[{key!r}]", roles)


def load_dev_users(path) -> dict[str, dict]:
    """The dev login's users by email: {"users": [{"email", "name", "roles"}]} in a file."""
    try:
        listed = json.loads(Path(path).read_text())["users"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigurationError(f"DEV_USERS_FILE {path} is unreadable ({error})") from None
    users = {}
    for user in listed:
        email = str(user.get("email", "")).strip().lower()
        if not email:
            raise ConfigurationError(f"DEV_USERS_FILE {path} has a user without an email")
        _check_roles(f"the roles of {email}", user.get("roles", []))
        users[email] = {
            "email": email,
            "name": user.get("name", email),
            "roles": sorted(user.get("roles", [])),
        }
    return users


def _check_roles(where: str, roles) -> None:
    if not isinstance(roles, list) or any(role not in ROLES for role in roles):
        raise ConfigurationError(f"{where} must be a list of roles among {', '.join(ROLES)}")


def _role_mapping(text: str) -> dict:
    try:
        mapping = json.loads(text)
    except ValueError:
        raise ConfigurationError("ROLE_MAPPING is not valid JSON") from None
    if not isinstance(mapping, dict):
        raise ConfigurationError("ROLE_MAPPING must be a JSON object: email or group -> roles")
    return mapping


def _flag(name: str, value: str) -> bool:
    value = value.strip().lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("0", "false", "no"):
        return False
    raise ConfigurationError(f"{name} must be true or false, not {value!r}")


def _number(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ConfigurationError("SESSION_LIFETIME_SECONDS must be a whole number") from None
    if number <= 0:
        raise ConfigurationError("SESSION_LIFETIME_SECONDS must be positive")
    return number
