"""A local OpenID Connect provider stand-in (authorization code flow), strict where OIDC is:
discovery, /authorize checks client and redirect URI and keeps the nonce, /token checks the
client secret, the code (once) and the redirect URI, and returns an RS256 ID token whose key
is published at /jwks. It logs in whoever `user` names, without a form."""
from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

from joserfc import jwt
from joserfc.jwk import RSAKey


class OidcProvider:
    def __init__(self, client_id: str, client_secret: str, redirect_uri: str):
        self.client_id, self.client_secret, self.redirect_uri = client_id, client_secret, redirect_uri
        self.key = RSAKey.generate_key(2048, parameters={"kid": "stand-in"})
        self.user: dict = {}
        self.codes: dict[str, str] = {}      # code -> nonce
        self.refusals: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    @property
    def metadata_url(self) -> str:
        return self.issuer + "/.well-known/openid-configuration"

    def close(self) -> None:
        self.server.shutdown()

    def _id_token(self, nonce: str) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": self.user["email"], "aud": self.client_id, "iat": now,
                  "exp": now + 600, "nonce": nonce, **self.user}
        return jwt.encode({"alg": "RS256", "kid": "stand-in"}, claims, self.key)

    def _handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _refuse(self, why: str) -> None:
                provider.refusals.append(why)
                self._json(400, {"error": "invalid_request", "error_description": why})

            def do_GET(self):
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/.well-known/openid-configuration":
                    return self._json(200, {
                        "issuer": provider.issuer, "authorization_endpoint": provider.issuer + "/authorize",
                        "token_endpoint": provider.issuer + "/token", "jwks_uri": provider.issuer + "/jwks",
                        "response_types_supported": ["code"], "subject_types_supported": ["public"],
                        "id_token_signing_alg_values_supported": ["RS256"],
                        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                        "scopes_supported": ["openid", "email", "profile"]})
                if url.path == "/jwks":
                    return self._json(200, {"keys": [provider.key.as_dict(private=False)]})
                if url.path == "/authorize":
                    if query.get("client_id") != provider.client_id:
                        return self._refuse("unknown client")
                    if query.get("redirect_uri") != provider.redirect_uri:
                        return self._refuse(f"redirect_uri {query.get('redirect_uri')} is not registered")
                    if query.get("response_type") != "code" or "openid" not in query.get("scope", "").split():
                        return self._refuse("not an OIDC code request")
                    code = secrets.token_urlsafe(16)
                    provider.codes[code] = query.get("nonce", "")
                    target = provider.redirect_uri + "?" + urlencode({"code": code, "state": query.get("state", "")})
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.end_headers()
                    return None
                return self._json(404, {"error": "not_found"})

            def do_POST(self):
                if urlparse(self.path).path != "/token":
                    return self._json(404, {"error": "not_found"})
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                form = {k: v[0] for k, v in parse_qs(body).items()}
                auth = self.headers.get("Authorization", "")
                if auth.startswith("Basic "):
                    client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
                else:
                    client_id, secret = form.get("client_id"), form.get("client_secret")
                if (client_id, secret) != (provider.client_id, provider.client_secret):
                    return self._refuse("bad client credentials")
                nonce = provider.codes.pop(form.get("code", ""), None)
                if nonce is None or form.get("grant_type") != "authorization_code":
                    return self._refuse("unknown or used code")
                if form.get("redirect_uri") != provider.redirect_uri:
                    return self._refuse("redirect_uri differs from the authorization request")
                return self._json(200, {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                                        "expires_in": 600, "id_token": provider._id_token(nonce)})

        return Handler
