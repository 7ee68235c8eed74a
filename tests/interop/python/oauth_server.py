"""An OAuth 2.0 authorization server for the upstream identity tests, built
on Authlib's Flask integration: it plays the company's identity provider.

- `password` grant: mints users' access tokens (JWTs, RS256, audience
  USER_AUDIENCE, a `tenant` claim) for the test users below;
- `client_credentials` grant: a tenant's service identity (the client's
  `tenant`);
- RFC 8693 token exchange (`urn:ietf:params:oauth:grant-type:token-exchange`),
  a grant registered with Authlib: a user's token (verified: our signature,
  USER_AUDIENCE, not expired) for one whose audience is the requested
  `audience` (one of EXCHANGE_AUDIENCES), same subject and tenant, `act`
  naming the exchanging client;
- RFC 8414 metadata at `/.well-known/oauth-authorization-server`;
- authorization code with PKCE (S256 required) and a login form at
  `/authorize` for the clients `switchboard-connect` (confidential) and
  `switchboard-public` (public) (redirect URIs: any
  `http://127.0.0.1:<port>/connect/callback`), with refresh tokens
  (rotated; `/revoke-refresh` revokes every refresh token of a user);
  tokens' audience is the `resource` asked for (one of
  EXCHANGE_AUDIENCES);
- `/jwks` for the resource servers, `/stats` counting what was issued.

Started as `python oauth_server.py`; prints `port <n>` once it listens on
127.0.0.1. Lifetimes from the environment: USER_TTL (600 s) and
EXCHANGE_TTL (600 s).
"""

import os
import sys
import threading
import time
import uuid

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc6749.errors import (
    InvalidGrantError,
    InvalidRequestError,
    UnauthorizedClientError,
)
from flask import Flask, jsonify, request
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

USER_AUDIENCE = "https://switchboard.test/mcp"
EXCHANGE_AUDIENCES = {"https://upstream.test/mcp"}
SERVICE_AUDIENCE = "https://upstream.test/mcp"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"
USER_TTL = int(os.environ.get("USER_TTL", "600"))
EXCHANGE_TTL = int(os.environ.get("EXCHANGE_TTL", "600"))

USERS = {
    "alice": ("alice-pw", "acme"),
    "bob": ("bob-pw", "acme"),
    "carol": ("carol-pw", "globex"),
    "dave": ("dave-pw", "acme"),
}

KEY = RSAKey.generate_key(2048, parameters={"kid": "test-key", "use": "sig", "alg": "RS256"})
ISSUER = None  # set once the port is known
STATS = {"exchanges": 0, "client_credentials": 0, "users": 0, "subjects": [], "actors": [],
         "codes": 0, "code_tokens": 0, "refreshes": 0, "code_subjects": []}
CODES = {}      # code -> Code
REFRESH = {}    # refresh token -> (user, client_id, audience)
LOCK = threading.Lock()


class Client(ClientMixin):
    def __init__(self, client_id, secret, grant_types, tenant=None):
        self.client_id = client_id
        self.secret = secret
        self.grant_types = grant_types
        self.tenant = tenant

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        return scope or ""

    def check_redirect_uri(self, redirect_uri):
        if self.client_id not in CONNECT_CLIENTS or not redirect_uri:
            return False
        prefix = "http://127.0.0.1:"
        rest = redirect_uri[len(prefix):] if redirect_uri.startswith(prefix) else ""
        port, _, path = rest.partition("/")
        return port.isdigit() and path == "connect/callback"

    def check_client_secret(self, client_secret):
        return client_secret == self.secret

    def check_endpoint_auth_method(self, method, endpoint):
        if self.secret is None:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type):
        return self.client_id in CONNECT_CLIENTS and response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type in self.grant_types


CLIENTS = {
    c.client_id: c
    for c in [
        # Switchboard, exchanging its callers' tokens.
        Client("switchboard", "switchboard-secret", {TOKEN_EXCHANGE}),
        # Tenants' service identities.
        Client("acme-svc", "acme-svc-secret", {"client_credentials"}, "acme"),
        Client("globex-svc", "globex-svc-secret", {"client_credentials"}, "globex"),
        # What the tests' users sign in with.
        Client("test-cli", None, {"password"}),
        # Switchboard's connect flow to an upstream: confidential, and public.
        Client("switchboard-connect", "connect-secret", {"authorization_code", "refresh_token"}),
        Client("switchboard-public", None, {"authorization_code", "refresh_token"}),
    ]
}


CONNECT_CLIENTS = {"switchboard-connect", "switchboard-public"}


def mint(sub, tenant, audience, ttl, scope="", act=None):
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": sub,
        "aud": audience,
        "tenant": tenant,
        "iat": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
    }
    if scope:
        claims["scope"] = scope
    if act:
        claims["act"] = act
    header = {"alg": "RS256", "kid": "test-key"}
    return jwt.encode(header, claims, KEY)


def bearer(token, ttl, **extra):
    return {"access_token": token, "token_type": "Bearer", "expires_in": ttl, **extra}


class PasswordGrant(grants.ResourceOwnerPasswordCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["none"]

    def authenticate_user(self, username, password):
        user = USERS.get(username)
        if user and user[0] == password:
            return {"sub": username, "tenant": user[1]}
        return None

    def create_token_response(self):
        user = self.request.user
        with LOCK:
            STATS["users"] += 1
        token = mint(user["sub"], user["tenant"], USER_AUDIENCE, USER_TTL, self.request.payload.scope or "")
        return 200, bearer(token, USER_TTL), self.TOKEN_RESPONSE_HEADER


class ServiceGrant(grants.ClientCredentialsGrant):
    def create_token_response(self):
        client = self.request.client
        with LOCK:
            STATS["client_credentials"] += 1
        token = mint(client.client_id, client.tenant, SERVICE_AUDIENCE, EXCHANGE_TTL)
        return 200, bearer(token, EXCHANGE_TTL), self.TOKEN_RESPONSE_HEADER


class Code(AuthorizationCodeMixin):
    def __init__(self, code, client_id, redirect_uri, scope, user, challenge, method, audience):
        self.code, self.client_id, self.redirect_uri = code, client_id, redirect_uri
        self.scope, self.user, self.audience = scope, user, audience
        self.code_challenge, self.code_challenge_method = challenge, method
        self.created = time.time()

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope


def user_token(user, client_id, audience):
    """An access token for `user` meant for `audience`, and a refresh
    token for it."""
    access = mint(user["sub"], user["tenant"], audience, EXCHANGE_TTL)
    refresh = uuid.uuid4().hex
    REFRESH[refresh] = (user, client_id, audience)
    return bearer(access, EXCHANGE_TTL, refresh_token=refresh)


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "none"]

    def save_authorization_code(self, code, req):
        audience = req.args.get("resource") or SERVICE_AUDIENCE
        with LOCK:
            CODES[code] = Code(code, req.client.client_id, req.payload.redirect_uri, req.payload.scope,
                               req.user, req.args.get("code_challenge"),
                               req.args.get("code_challenge_method"), audience)
            STATS["codes"] += 1

    def query_authorization_code(self, code, client):
        c = CODES.get(code)
        if c and c.client_id == client.client_id and time.time() - c.created < 300:
            return c
        return None

    def delete_authorization_code(self, authorization_code):
        CODES.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code):
        return authorization_code.user

    def create_token_response(self):
        code = self.request.authorization_code
        self.delete_authorization_code(code)
        with LOCK:
            STATS["code_tokens"] += 1
            STATS["code_subjects"].append(code.user["sub"])
        body = user_token(code.user, code.client_id, code.audience)
        return 200, body, self.TOKEN_RESPONSE_HEADER


class RefreshGrant(grants.BaseGrant, grants.TokenEndpointMixin):
    """Refresh tokens, rotated on use."""

    GRANT_TYPE = "refresh_token"
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "none"]

    def validate_token_request(self):
        client = self.authenticate_token_endpoint_client()
        held = REFRESH.get(self.request.form.get("refresh_token", ""))
        if not held or held[1] != client.client_id:
            raise InvalidGrantError("refresh_token is unknown or revoked")
        self.request.client = client
        self.held = held

    def create_token_response(self):
        REFRESH.pop(self.request.form.get("refresh_token", ""), None)
        user, client_id, audience = self.held
        with LOCK:
            STATS["refreshes"] += 1
        return 200, user_token(user, client_id, audience), self.TOKEN_RESPONSE_HEADER


class TokenExchangeGrant(grants.BaseGrant, grants.TokenEndpointMixin):
    """RFC 8693 §2: a user's access token for one meant for another
    audience, to a client allowed the grant."""

    GRANT_TYPE = TOKEN_EXCHANGE
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic"]

    def validate_token_request(self):
        client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError(f"client may not use {self.GRANT_TYPE}")
        form = self.request.form
        subject = form.get("subject_token")
        if not subject or form.get("subject_token_type") != ACCESS_TOKEN:
            raise InvalidRequestError("subject_token with an access_token subject_token_type is required")
        audience = form.get("audience")
        if audience not in EXCHANGE_AUDIENCES:
            raise InvalidRequestError(f"unknown audience {audience!r}")
        try:
            claims = jwt.decode(subject, KEY).claims
        except Exception:
            raise InvalidGrantError("subject_token is not a token of ours")
        if claims.get("aud") != USER_AUDIENCE or claims.get("exp", 0) <= time.time():
            raise InvalidGrantError("subject_token is expired or not meant for Switchboard")
        self.request.client = client
        self.request.user = claims
        self.audience = audience

    def create_token_response(self):
        user = self.request.user
        act = {"sub": self.request.client.client_id}
        with LOCK:
            STATS["exchanges"] += 1
            STATS["subjects"].append(user["sub"])
            STATS["actors"].append(act["sub"])
        token = mint(user["sub"], user["tenant"], self.audience, EXCHANGE_TTL, user.get("scope", ""), act)
        body = bearer(token, EXCHANGE_TTL, issued_token_type=ACCESS_TOKEN)
        return 200, body, self.TOKEN_RESPONSE_HEADER


app = Flask(__name__)
server = AuthorizationServer(app, query_client=CLIENTS.get, save_token=lambda token, request: None)
server.register_grant(PasswordGrant)
server.register_grant(ServiceGrant)
server.register_grant(TokenExchangeGrant)
server.register_grant(CodeGrant, [CodeChallenge(required=True)])
server.register_grant(RefreshGrant)


LOGIN_FORM = """<!doctype html><form method="post">
<input name="username"><input name="password" type="password">
<button>Sign in</button></form>"""


@app.route("/authorize", methods=["GET", "POST"])
def authorize():
    """The login page: GET shows the form (after checking the request),
    POST signs the user in and sends the browser back with a code."""
    if request.method == "GET":
        try:
            server.get_consent_grant(end_user=None)
        except Exception as e:
            return jsonify({"error": getattr(e, "error", "invalid_request"),
                            "error_description": getattr(e, "description", str(e))}), 400
        return LOGIN_FORM
    name = request.form.get("username", "")
    user = USERS.get(name)
    if not user or user[0] != request.form.get("password"):
        return "wrong username or password", 401
    return server.create_authorization_response(grant_user={"sub": name, "tenant": user[1]})


@app.route("/revoke-refresh", methods=["POST"])
def revoke_refresh():
    """Revoke every refresh token of `user` (the grant is withdrawn)."""
    name = request.form.get("user", "")
    with LOCK:
        for token in [t for t, held in REFRESH.items() if held[0]["sub"] == name]:
            REFRESH.pop(token)
    return jsonify({"ok": True})


@app.route("/token", methods=["POST"])
def token():
    return server.create_token_response()


@app.route("/.well-known/oauth-authorization-server")
def metadata():
    """RFC 8414 metadata."""
    return jsonify({
        "issuer": ISSUER,
        "authorization_endpoint": f"{ISSUER}/authorize",
        "token_endpoint": f"{ISSUER}/token",
        "jwks_uri": f"{ISSUER}/jwks",
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials",
                                  "password", TOKEN_EXCHANGE],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
    })


@app.route("/jwks")
def jwks():
    return jsonify({"keys": [KEY.as_dict(private=False)]})


@app.route("/stats")
def stats():
    with LOCK:
        return jsonify(STATS)


def main():
    global ISSUER
    http = make_server("127.0.0.1", 0, app, threaded=True)
    ISSUER = f"http://127.0.0.1:{http.server_port}"
    print(f"port {http.server_port}", flush=True)
    http.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
