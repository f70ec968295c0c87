"""The signoff app: QA and release management approve or reject the workflow's human steps,
and release managers follow each execution.

``create_app`` builds it from a settings dict or the environment (see ``config``);
``local.start_local_app`` serves it on the local stack; ``lambda_handler`` runs it on Lambda.
"""

import secrets
from datetime import timedelta

import boto3
from flask import Flask, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from apps.signoff import audit, auth, config, executions, formatting, signoffs
from apps.signoff.workflow import ExecutionReader

MAX_FORM_BYTES = 64 * 1024
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)


def create_app(settings: dict | None = None) -> Flask:
    """Build the app from settings, or from the environment when none are given.

    Settings use the names of the environment variables (``config``'s docstring), with
    values already typed; ``SECRET_KEY`` and ``OIDC_CLIENT_SECRET`` may be given as values
    (tests, local stack) or are read from their ``..._SECRET`` references. A
    ``STEPFUNCTIONS_CLIENT`` may be passed to use a given boto3 client.
    """
    chosen = config.from_environment() if settings is None else settings
    settings = config.resolve_secrets({**config.DEFAULTS, **chosen})
    if settings["AUTH_MODE"] == "dev" and settings["LOCAL_STACK"]:
        settings.setdefault("SECRET_KEY", secrets.token_hex(32))
    config.check(settings)

    app = Flask(__name__)
    app.config.update({key: value for key, value in settings.items() if key.isupper()})
    app.config.update(_flask_settings(settings))
    CSRFProtect(app)

    stepfunctions = settings.get("STEPFUNCTIONS_CLIENT") or boto3.client("stepfunctions")
    app.extensions["signoff_stepfunctions"] = stepfunctions
    app.extensions["signoff_executions"] = ExecutionReader(
        settings["STATE_MACHINE_ARN"], stepfunctions
    )
    if settings["AUTH_MODE"] == "dev":
        users_file = settings.get("DEV_USERS_FILE") or config.DEV_USERS_FILE
        app.extensions["signoff_dev_users"] = config.load_dev_users(users_file)
    else:
        auth.register_oidc(app)

    app.register_blueprint(auth.bp)
    app.register_blueprint(signoffs.bp, url_prefix="/signoffs")
    app.register_blueprint(executions.bp, url_prefix="/executions")
    app.add_url_rule("/", "home", home)
    _add_page_helpers(app)
    _add_error_pages(app)
    app.after_request(_add_security_headers)
    return app


def home():
    """Start at the pending signoffs."""
    return redirect(url_for("signoffs.index"))


def _flask_settings(settings: dict) -> dict:
    secure = settings["COOKIE_SECURE"]
    return {
        "SESSION_COOKIE_NAME": "__Host-signoff" if secure else "signoff",
        "SESSION_COOKIE_SECURE": secure,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "PERMANENT_SESSION_LIFETIME": timedelta(seconds=settings["SESSION_LIFETIME_SECONDS"]),
        "PREFERRED_URL_SCHEME": "https" if secure else "http",
        # The session's own expiry bounds a form's life; a token per session is enough.
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": MAX_FORM_BYTES,
    }


def _add_page_helpers(app: Flask) -> None:
    links = formatting.Links(app.config)
    app.add_template_filter(formatting.when)
    app.add_template_filter(formatting.duration)
    app.add_template_filter(formatting.filesize)
    app.add_template_global(links, "links")


def _add_error_pages(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def refuse_forged_form(error):
        """Refuse a form without this session's CSRF token, and log the refusal."""
        audit.record("refusal", reason=f"CSRF: {error.description}")
        message = (
            "This form has expired or did not come from this site. Nothing was changed: "
            "go back, reload the page and try again."
        )
        return render_template("error.html", code=400, message=message), 400

    # Refusals are logged where they are decided (login_required, the decision views).
    @app.errorhandler(HTTPException)
    def show_error(error):
        """Show an HTTP error as a page that says what happened."""
        page = render_template("error.html", code=error.code, message=error.description)
        return page, error.code


def _add_security_headers(response):
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    return response
