#!/usr/bin/env python3
"""An OpenID Connect provider for the sign-in tests, built on Authlib's
Flask integration and its OpenID Connect support: it plays the company's
identity provider that Switchboard (`[oauth.oidc]`) sends its users to.

- discovery at `/.well-known/openid-configuration` (OpenID Connect
  Discovery 1.0; checked at start by Authlib's `OpenIDProviderMetadata`);
- authorization code flow (`/authorize`, `/token`) with Authlib's
  `OpenIDCode` extension: an `id_token` (RS256, signed with a key made at
  start and published at `/jwks`) carrying `iss`, `aud` = the client id,
  `exp`, `iat`, `auth_time`, the request's `nonce`, `at_hash`, and the
  user's claims (`sub`, `email`, `email_verified`, `name`,
  `preferred_username`, `groups`) for the scopes granted; a nonce is
  required and may not be used twice;
- PKCE (Authlib's `CodeChallenge`): every authorization request must carry
  an S256 `code_challenge` (plain is refused), and the token request its
  verifier;
- `/userinfo` (Authlib's `UserInfoEndpoint`, bearer access token);
- a login form at `/authorize` (username = the user's email, password);
- clients: `switchboard` (confidential: `client_secret_basic` or
  `client_secret_post`, its secret the first argument or
  OIDC_CLIENT_SECRET, default "switchboard-secret") and `switchboard-public`
  (public, PKCE only); both may be sent back to any
  `http://127.0.0.1:<port>/oauth/callback` (or `localhost`);
- `/stats`: what the provider saw (authorization requests, sign-ins, token
  requests with how the client authenticated, id tokens issued) and each
  user's `sub`, for the tests to check that Switchboard spoke OpenID
  Connect as it should.

Users (username = email): alice@acme.example / alice-pw (groups
engineering), bob@other.example / bob-pw, carol@acme.example / carol-pw;
OIDC_USERS="email=password,..." replaces the list (names derived from the
email).

Started as `python oidc_provider.py [CLIENT_SECRET]`; prints `port <n>`
once it listens on 127.0.0.1 (OIDC_PORT picks the port; default any free
one). The issuer is `http://127.0.0.1:<n>`.
"""

import html
import os
import sys
import threading
import time
import uuid

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo, UserInfoEndpoint
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.models import AuthorizationCodeMixin
from authlib.oidc.discovery import OpenIDProviderMetadata
from flask import Flask, jsonify, request
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

CLIENT_SECRET = (sys.argv[1:] or [os.environ.get("OIDC_CLIENT_SECRET", "switchboard-secret")])[0]
KEY = RSAKey.generate_key(2048, parameters={"kid": f"idp-{uuid.uuid4().hex[:8]}", "use": "sig",
                                            "alg": "RS256"}, private=True)
ID_TOKEN_SECS = 300
CODE_SECS = 120
ISSUER = None  # set once the port is known


def _users():
    spec = os.environ.get("OIDC_USERS")
    if not spec:
        return {
            "alice@acme.example": {"password": "alice-pw", "name": "Alice Acme", "groups": ["engineering"]},
            "bob@other.example": {"password": "bob-pw", "name": "Bob Other", "groups": []},
            "carol@acme.example": {"password": "carol-pw", "name": "Carol Acme", "groups": ["sales"]},
        }
    users = {}
    for item in spec.split(","):
        email, _, password = item.strip().partition("=")
        users[email] = {"password": password, "name": email.split("@")[0].title(), "groups": []}
    return users


USERS = _users()
# A stable, opaque subject per user (what a real IdP puts in `sub`).
SUBJECTS = {email: "u-" + uuid.uuid5(uuid.NAMESPACE_URL, email).hex[:16] for email in USERS}

CODES = {}   # code -> Code
TOKENS = {}  # access token -> Token
NONCES = set()
STATS = {"authorize": [], "logins": [], "token_requests": [], "id_tokens": 0, "userinfo": 0,
         "subjects": SUBJECTS}
LOCK = threading.Lock()


class User:
    def __init__(self, email):
        self.email = email
        self.sub = SUBJECTS[email]
        self.info = USERS[email]


class Client(ClientMixin):
    def __init__(self, client_id, secret):
        self.client_id = client_id
        self.secret = secret
        self.client_metadata = {}  # read by UserInfoEndpoint (no signed userinfo)

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        allowed = {"openid", "email", "profile", "groups"}
        return " ".join(s for s in (scope or "").split() if s in allowed)

    def check_redirect_uri(self, redirect_uri):
        for prefix in ("http://127.0.0.1:", "http://localhost:"):
            if redirect_uri and redirect_uri.startswith(prefix):
                port, _, path = redirect_uri[len(prefix):].partition("/")
                return port.isdigit() and path == "oauth/callback"
        return False

    def check_client_secret(self, client_secret):
        return self.secret is not None and client_secret == self.secret

    def check_endpoint_auth_method(self, method, endpoint):
        if self.secret is None:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type == "authorization_code"


CLIENTS = {c.client_id: c for c in [Client("switchboard", CLIENT_SECRET), Client("switchboard-public", None)]}


class Code(AuthorizationCodeMixin):
    def __init__(self, code, req):
        self.code = code
        self.client_id = req.client.client_id
        self.redirect_uri = req.payload.redirect_uri
        self.scope = req.payload.scope or ""
        self.user = req.user
        self.nonce = req.payload.data.get("nonce")
        self.code_challenge = req.payload.data.get("code_challenge")
        self.code_challenge_method = req.payload.data.get("code_challenge_method")
        self.auth_time = int(time.time())
        self.created = time.time()

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time

    def get_amr(self):
        return ["pwd"]


class Token(TokenMixin):
    def __init__(self, token, client, user):
        self.access_token = token["access_token"]
        self.scope = token.get("scope", "")
        self.expires_at = time.time() + token.get("expires_in", 3600)
        self.client, self.user = client, user

    def check_client(self, client):
        return client.client_id == self.client.client_id

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return int(self.expires_at - time.time())

    def is_expired(self):
        return time.time() >= self.expires_at

    def is_revoked(self):
        return False

    def get_user(self):
        return self.user

    def get_client(self):
        return self.client


def user_info(user, scope):
    """The user's claims for `scope` (OpenID Connect Core §5.4)."""
    info = UserInfo(sub=user.sub)
    scopes = (scope or "").split()
    if "email" in scopes:
        info["email"] = user.email
        info["email_verified"] = True
    if "profile" in scopes:
        info["name"] = user.info["name"]
        info["preferred_username"] = user.email.split("@")[0]
    if "groups" in scopes or "profile" in scopes:
        info["groups"] = list(user.info["groups"])
    return info


class S256Only(CodeChallenge):
    """PKCE with S256, on every authorization request."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge' (PKCE S256 is required)")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256")
        super().validate_code_challenge(grant, redirect_uri)


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def save_authorization_code(self, code, req):
        with LOCK:
            CODES[code] = Code(code, req)
            NONCES.add(CODES[code].nonce)

    def query_authorization_code(self, code, client):
        c = CODES.get(code)
        if c and c.client_id == client.client_id and time.time() - c.created < CODE_SECS:
            return c
        return None

    def delete_authorization_code(self, authorization_code):
        with LOCK:
            CODES.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code):
        return authorization_code.user


class OpenIDConnect(OpenIDCode):
    """The OpenID Connect extension of the code grant: nonces, the id token."""

    def exists_nonce(self, nonce, req):
        # A nonce some code was already issued for (Authlib asks on the
        # GET that shows the form and again on the POST that issues the
        # code, so the nonce is recorded when a code is saved).
        with LOCK:
            return nonce in NONCES

    def resolve_client_private_key(self, client):
        return KEY

    def get_client_algorithm(self, client):
        return "RS256"

    def get_encode_header(self, client):
        return {"alg": "RS256", "kid": KEY.kid, "typ": "JWT"}

    def get_client_claims(self, client):
        now = int(time.time())
        return {"iss": ISSUER, "aud": [client.get_client_id()], "iat": now, "exp": now + ID_TOKEN_SECS}

    def generate_user_info(self, user, scope):
        return user_info(user, scope)

    def process_token(self, grant, response):
        token = super().process_token(grant, response)
        if "id_token" in token:
            with LOCK:
                STATS["id_tokens"] += 1
        return token


class AccessTokens(BearerTokenValidator):
    def authenticate_token(self, token_string):
        return TOKENS.get(token_string)


class UserInfoAt(UserInfoEndpoint):
    def get_issuer(self):
        return ISSUER

    def generate_user_info(self, user, scope):
        with LOCK:
            STATS["userinfo"] += 1
        return user_info(user, scope)

    def resolve_private_key(self):
        return KEY


def save_token(token, req):
    with LOCK:
        TOKENS[token["access_token"]] = Token(token, req.client, req.user)


app = Flask(__name__)
app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {"authorization_code": 600}
server = AuthorizationServer(app, query_client=CLIENTS.get, save_token=save_token)
server.register_grant(CodeGrant, [S256Only(required=True), OpenIDConnect(require_nonce=True)])
require_oauth = ResourceProtector()
require_oauth.register_token_validator(AccessTokens())
server.register_endpoint(UserInfoAt(resource_protector=require_oauth))


def login_page(action, error=""):
    note = f'<p class="error">{html.escape(error)}</p>' if error else ""
    return f"""<!doctype html>
<html><head><title>Sign in - Test IdP</title></head><body>
<h1>Sign in to the test identity provider</h1>{note}
<form method="post" action="{html.escape(action)}">
<label>Email <input name="username" type="email" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button>
</form></body></html>"""


def error_json(e, status=400):
    return jsonify({"error": getattr(e, "error", "invalid_request"),
                    "error_description": getattr(e, "description", str(e))}), status


@app.route("/authorize", methods=["GET", "POST"])
def authorize():
    """GET: check the request, show the login form (posted back to this
    same URL, query and all). POST: sign in, send the browser back with a
    code."""
    if request.method == "GET":
        args = request.args
        with LOCK:
            STATS["authorize"].append({k: args.get(k) for k in (
                "client_id", "redirect_uri", "scope", "response_type", "code_challenge_method")}
                | {"nonce": bool(args.get("nonce")), "state": bool(args.get("state")),
                   "code_challenge": bool(args.get("code_challenge"))})
        try:
            server.get_consent_grant(end_user=None)
        except Exception as e:  # noqa: BLE001 - any refusal is shown as the OAuth error
            return error_json(e)
        return login_page(request.full_path)
    email = request.form.get("username", "")
    user = USERS.get(email)
    if not user or user["password"] != request.form.get("password"):
        return login_page(request.full_path, "wrong email or password"), 401
    with LOCK:
        STATS["logins"].append(email)
    return server.create_authorization_response(grant_user=User(email))


@app.route("/token", methods=["POST"])
def token():
    auth = request.headers.get("Authorization", "")
    with LOCK:
        STATS["token_requests"].append({
            "grant_type": request.form.get("grant_type"),
            "client_auth": "client_secret_basic" if auth.startswith("Basic ")
            else "client_secret_post" if request.form.get("client_secret") else "none",
            "client_id": request.form.get("client_id"),
            "code_verifier": bool(request.form.get("code_verifier")),
            "redirect_uri": request.form.get("redirect_uri"),
        })
    return server.create_token_response()


@app.route("/userinfo", methods=["GET", "POST"])
def userinfo():
    return server.create_endpoint_response("userinfo")


@app.route("/jwks")
def jwks():
    return jsonify({"keys": [KEY.as_dict(private=False)]})


def discovery():
    return {
        "issuer": ISSUER,
        "authorization_endpoint": f"{ISSUER}/authorize",
        "token_endpoint": f"{ISSUER}/token",
        "userinfo_endpoint": f"{ISSUER}/userinfo",
        "jwks_uri": f"{ISSUER}/jwks",
        "scopes_supported": ["openid", "email", "profile", "groups"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "amr",
                             "email", "email_verified", "name", "preferred_username", "groups"],
    }


@app.route("/.well-known/openid-configuration")
def openid_configuration():
    return jsonify(discovery())


@app.route("/stats")
def stats():
    with LOCK:
        return jsonify(STATS)


def main():
    global ISSUER
    http = make_server("127.0.0.1", int(os.environ.get("OIDC_PORT", "0")), app, threaded=True)
    ISSUER = f"http://127.0.0.1:{http.server_port}"
    # Authlib checks the discovery document (it requires https: the one
    # thing a loopback test provider leaves out).
    OpenIDProviderMetadata(discovery() | {"issuer": ISSUER.replace("http://", "https://", 1)}).validate()
    print(f"port {http.server_port}", flush=True)
    http.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
