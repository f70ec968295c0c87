"""Signing in and out: OpenID Connect in production, a dev login on the local stack.

The session (a signed cookie) holds the reviewer's email, name, roles and an absolute expiry;
``g.reviewer`` is set from it before each request. Roles come from the configured mapping of
emails and identity-provider groups (OIDC) or from the dev users file (dev).
"""

import functools
import ipaddress
import time
from dataclasses import dataclass

from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from apps.signoff import audit
from apps.signoff.config import ROLES
from sysaddons.signoffs import Reviewer

bp = Blueprint("auth", __name__)


@dataclass
class SignedInReviewer(Reviewer):
    """A reviewer with the name to greet them by and how they signed in."""

    name: str = ""
    method: str = ""


def register_oidc(app) -> None:
    """Register the identity provider with Authlib; its metadata is fetched on first login.

    Authlib checks the state and the ID token's nonce, signature, issuer and audience; the
    code exchange also carries a PKCE verifier.
    """
    oauth = OAuth(app)
    oauth.register(
        "sso",
        client_id=app.config["OIDC_CLIENT_ID"],
        client_secret=app.config["OIDC_CLIENT_SECRET"],
        server_metadata_url=app.config["OIDC_ISSUER"].rstrip("/")
        + "/.well-known/openid-configuration",
        client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256"},
    )
    app.extensions["signoff_oauth"] = oauth


def roles_for(email: str, groups, mapping: dict) -> set[str]:
    """The roles an identity has: those mapped to its email plus those mapped to its groups."""
    lowered = {str(key).lower(): value for key, value in mapping.items() if "@" in str(key)}
    roles = set(lowered.get(email.lower(), []))
    for group in groups if isinstance(groups, list) else []:
        roles.update(mapping.get(str(group), []))
    return roles & set(ROLES)


@bp.before_app_request
def load_logged_in_user() -> None:
    """Set g.reviewer from the session, or None when nobody (or an expired session) is in."""
    g.reviewer = None
    signed_in = session.get("reviewer")
    if not signed_in:
        return
    if signed_in.get("expires_at", 0) <= time.time():
        session.clear()
        flash("Your session expired; please sign in again.", "info")
        return
    g.reviewer = SignedInReviewer(
        email=signed_in["email"],
        roles=set(signed_in["roles"]),
        name=signed_in.get("name", ""),
        method=signed_in.get("method", ""),
    )


def login_required(view):
    """Let only signed-in reviewers with a role through; send the others to sign in."""

    @functools.wraps(view)
    def guarded(**kwargs):
        """Run the view for a signed-in reviewer with a role; refuse anyone else."""
        if g.reviewer is None:
            audit.record("refusal", reason="not signed in")
            if request.method == "GET":
                return redirect(url_for("auth.login", next=request.path))
            abort(401, "Please sign in first; nothing was changed.")
        if not g.reviewer.roles:
            audit.record("refusal", reason="no role")
            abort(403, "Your account has no role in the signoff app.")
        return view(**kwargs)

    return guarded


@bp.get("/login")
def login():
    """Show the dev login form, or send the browser to the identity provider."""
    target = _safe_next(request.args.get("next"))
    if g.reviewer is not None:
        return redirect(target)
    if current_app.config["AUTH_MODE"] == "dev":
        _require_dev_login()
        users = current_app.extensions["signoff_dev_users"].values()
        return render_template("auth/login_dev.html", users=users, next=target)
    session["next"] = target
    callback = url_for("auth.callback", _external=True)
    return current_app.extensions["signoff_oauth"].sso.authorize_redirect(callback)


@bp.post("/login")
def login_dev():
    """Sign in as one of the dev users (local stack only)."""
    _require_dev_login()
    email = request.form.get("email", "").strip().lower()
    user = current_app.extensions["signoff_dev_users"].get(email)

    if user is None:
        audit.record("refusal", reason="unknown dev user", attempted=email)
        users = current_app.extensions["signoff_dev_users"].values()
        flash("There is no such dev user.", "error")
        return render_template("auth/login_dev.html", users=users, next="/"), 400

    _sign_in(user["email"], user["name"], set(user["roles"]), "dev")
    return redirect(_safe_next(request.form.get("next")))


@bp.get("/auth/callback")
def callback():
    """Finish an OpenID Connect sign-in: check the ID token, map roles, start the session."""
    if current_app.config["AUTH_MODE"] != "oidc":
        abort(404)
    try:
        token = current_app.extensions["signoff_oauth"].sso.authorize_access_token()
    except OAuthError as error:
        audit.record("refusal", reason="sign-in failed", error=error.error)
        abort(401, "Signing in did not work; please try again.")
    claims = token.get("userinfo") or {}
    email = str(claims.get("email", "")).strip().lower()
    target = _safe_next(session.pop("next", None))

    if not email or claims.get("email_verified") is False:
        audit.record("refusal", reason="no verified email in the ID token")
        abort(403, "Your identity provider did not give a verified email address.")
    groups = claims.get(current_app.config["OIDC_GROUPS_CLAIM"], [])
    roles = roles_for(email, groups, current_app.config["ROLE_MAPPING"])
    if not roles:
        audit.record("refusal", reason="no role", attempted=email)
        abort(403, f"{email} has no role in the signoff app; ask an admin for one.")

    _sign_in(email, str(claims.get("name") or email), roles, "oidc")
    return redirect(target)


@bp.post("/logout")
def logout():
    """End the session; the identity provider's own session is left alone."""
    if g.reviewer is not None:
        audit.record("logout")
    session.clear()
    g.reviewer = None
    return render_template("auth/signed_out.html")


def _sign_in(email: str, name: str, roles: set[str], method: str) -> None:
    session.clear()
    session.permanent = True
    lifetime = current_app.config["SESSION_LIFETIME_SECONDS"]
    session["reviewer"] = {
        "email": email,
        "name": name,
        "roles": sorted(roles),
        "method": method,
        "expires_at": int(time.time()) + lifetime,
    }
    audit.record("login", user=email, roles=sorted(roles), login_method=method)


def _require_dev_login() -> None:
    """Dev login exists only on the local stack, and only for requests made on this machine.

    A request that came through a proxy (forwarding headers) or through apig-wsgi is never
    local, whatever its remote address says: apig-wsgi reports 127.0.0.1 for some events.
    """
    config = current_app.config
    proxied = (
        "apig_wsgi.full_event" in request.environ
        or "X-Forwarded-For" in request.headers
        or "Forwarded" in request.headers
    )
    allowed = (
        config["AUTH_MODE"] == "dev"
        and config["LOCAL_STACK"]
        and not config["COOKIE_SECURE"]
        and _is_loopback(request.remote_addr)
        and not proxied
    )
    if not allowed:
        abort(404)


def _is_loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:
        return False


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never another host, so a link cannot bounce a reviewer away."""
    unsafe = "\\" in target if target else True
    unsafe = unsafe or not target.startswith("/") or target.startswith("//")
    if unsafe or any(ord(character) < 32 for character in target):
        return url_for("signoffs.index")
    return target
