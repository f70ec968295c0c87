"""Settings: read from the environment, refused when they would open dev login in production."""

import pytest

from apps.signoff import create_app
from apps.signoff.config import check, from_environment, load_dev_users, production_settings
from sysaddons.errors import ConfigurationError

BASE = {
    "SIGNOFF_TABLE": "signoffs",
    "STATE_MACHINE_ARN": "arn:aws:states:::machine",
    "SECRET_KEY": "k",
}
OIDC = {
    "AUTH_MODE": "oidc",
    "OIDC_ISSUER": "https://sso.example",
    "OIDC_CLIENT_ID": "id",
    "OIDC_CLIENT_SECRET": "s",
    "COOKIE_SECURE": True,
    "LOCAL_STACK": False,
}


@pytest.mark.parametrize(
    "settings, problem",
    [
        ({"AUTH_MODE": "dev", "COOKIE_SECURE": True, "LOCAL_STACK": True}, "AUTH_MODE=dev needs"),
        ({"AUTH_MODE": "dev", "COOKIE_SECURE": False, "LOCAL_STACK": False}, "local stack only"),
        ({"AUTH_MODE": "dev", "COOKIE_SECURE": True, "LOCAL_STACK": False}, "AUTH_MODE=dev needs"),
        ({**OIDC, "COOKIE_SECURE": False}, "COOKIE_SECURE=false is allowed on the local stack"),
        ({**OIDC, "OIDC_CLIENT_SECRET": ""}, "OIDC_CLIENT_SECRET"),
        ({**OIDC, "AUTH_MODE": "none"}, "AUTH_MODE must be one of"),
        ({**OIDC, "ROLE_MAPPING": {"x@mozilla.com": ["root"]}}, "ROLE_MAPPING"),
        ({**OIDC, "SECRET_KEY": ""}, "SECRET_KEY"),
    ],
)
def test_unsafe_or_incomplete_settings_are_refused(settings, problem):
    with pytest.raises(ConfigurationError, match=problem):
        check({**BASE, **settings})


def test_dev_login_on_the_local_stack_is_accepted():
    check({**BASE, "AUTH_MODE": "dev", "COOKIE_SECURE": False, "LOCAL_STACK": True})


def test_create_app_refuses_dev_login_with_secure_cookies():
    with pytest.raises(ConfigurationError, match="AUTH_MODE=dev needs"):
        create_app({**BASE, "AUTH_MODE": "dev", "LOCAL_STACK": True})


def test_settings_come_from_the_environment():
    settings = from_environment(
        {
            "SIGNOFF_TABLE": " signoffs ",
            "AUTH_MODE": "oidc",
            "COOKIE_SECURE": "false",
            "ALLOW_SELF_SIGNOFF": "yes",
            "SESSION_LIFETIME_SECONDS": "600",
            "ROLE_MAPPING": '{"qa-group": ["qa"]}',
            "OIDC_CLIENT_SECRET_SECRET": "ssm:/x",
        }
    )

    assert settings == {
        "SIGNOFF_TABLE": "signoffs",
        "AUTH_MODE": "oidc",
        "COOKIE_SECURE": False,
        "ALLOW_SELF_SIGNOFF": True,
        "SESSION_LIFETIME_SECONDS": 600,
        "ROLE_MAPPING": {"qa-group": ["qa"]},
        "OIDC_CLIENT_SECRET_SECRET": "ssm:/x",
    }


@pytest.mark.parametrize(
    "name, value",
    [
        ("COOKIE_SECURE", "maybe"),
        ("SESSION_LIFETIME_SECONDS", "soon"),
        ("SESSION_LIFETIME_SECONDS", "0"),
        ("ROLE_MAPPING", "[1]"),
        ("ROLE_MAPPING", "{"),
    ],
)
def test_malformed_environment_values_are_refused(name, value):
    with pytest.raises(ConfigurationError, match=name):
        from_environment({name: value})


def test_production_settings_never_allow_dev_login():
    with pytest.raises(ConfigurationError, match="OpenID Connect only"):
        production_settings({"AUTH_MODE": "dev", "COOKIE_SECURE": "false"})


def test_the_dev_users_file_names_the_four_local_reviewers():
    from apps.signoff.config import DEV_USERS_FILE

    users = load_dev_users(DEV_USERS_FILE)

    assert {email: user["roles"] for email, user in users.items()} == {
        "qa-reviewer@mozilla.com": ["qa"],
        "relman-reviewer@mozilla.com": ["relman"],
        "relman@mozilla.com": ["relman"],
        "admin@mozilla.com": ["admin"],
    }


def test_a_dev_user_with_an_unknown_role_is_refused(tmp_path):
    users = tmp_path / "users.json"
    users.write_text('{"users": [{"email": "a@mozilla.com", "roles": ["owner"]}]}')

    with pytest.raises(ConfigurationError, match="a@mozilla.com"):
        load_dev_users(users)
