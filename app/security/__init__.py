"""Authentication (who is calling) and rate limiting; authorization is app.schema.policy.

- identity: the caller, as the rest of the server sees it;
- tokens: JWT verification against a JWKS (remote, cached, rotating) or local keys;
- local_keys: a key pair of whistle's own for trying the jwt mode without an identity provider;
- authn: requests and WebSocket connections -> Identity (dev and jwt modes, CSRF);
- ratelimit: a points budget per identity and minute.
"""
