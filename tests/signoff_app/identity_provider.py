"""A small OpenID Connect provider on loopback, so the production sign-in runs for real.

It serves discovery, a token endpoint and its keys; the test plays the browser's part of the
authorization step: it reads ``state`` and ``nonce`` from the app's redirect, asks for a code
with the claims the ID token should carry, and comes back to the app's callback with it.
"""

import base64
import secrets
import time

from flask import Flask, abort, jsonify, request
from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "signoff-app"
CLIENT_SECRET = secrets.token_urlsafe(24)


class IdentityProvider:
    """Issues signed ID tokens for codes handed out by ``code_for``."""

    def __init__(self):
        self.key = RSAKey.generate_key(2048, parameters={"kid": "signing-key", "use": "sig"})
        self.issuer = ""
        self._codes: dict[str, dict] = {}
        self.app = Flask(__name__)
        self.app.add_url_rule("/.well-known/openid-configuration", view_func=self.discovery)
        self.app.add_url_rule("/.well-known/jwks.json", view_func=self.keys)
        self.app.add_url_rule("/oauth/token", view_func=self.token, methods=["POST"])

    def code_for(self, **claims) -> str:
        """An authorization code that the token endpoint trades for an ID token with claims."""
        code = secrets.token_urlsafe(16)
        self._codes[code] = claims
        return code

    def discovery(self):
        """The provider's metadata, as Authlib reads it on the first sign-in."""
        return jsonify(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/oauth/token",
                "jwks_uri": f"{self.issuer}/.well-known/jwks.json",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )

    def keys(self):
        """The public key that signs ID tokens."""
        return jsonify({"keys": [self.key.as_dict(private=False)]})

    def token(self):
        """Trade a code for a signed ID token, for the registered client only."""
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            abort(401)
        claims = self._codes.pop(request.form.get("code", ""), None)
        if claims is None or not request.form.get("code_verifier"):
            return jsonify({"error": "invalid_grant"}), 400
        now = int(time.time())
        id_token = jwt.encode(
            {"alg": "RS256", "kid": "signing-key"},
            {
                "iss": self.issuer,
                "aud": CLIENT_ID,
                "sub": claims.get("email", "someone"),
                "iat": now,
                "exp": now + 300,
                **claims,
            },
            self.key,
        )
        return jsonify(
            {
                "access_token": secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": id_token,
            }
        )
