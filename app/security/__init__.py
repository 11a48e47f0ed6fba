"""Authentication (who is calling) and authorization (what they may do).

- identity: the caller, as the rest of the server sees it;
- tokens: JWT verification against a JWKS (remote, cached, rotating) or local keys;
- local_keys: a key pair of whistle's own for trying the jwt mode without an identity provider;
- authn: requests and WebSocket connections -> Identity (dev and jwt modes, CSRF);
- policy: THE one table of who may run which field.
"""
