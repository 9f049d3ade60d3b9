"""The OAuth 2.0 authorization server (HighLevel's marketplace apps, on our own server).

Apps register with exact redirect URIs; users sign in and choose a location; the
authorization code grant with PKCE (S256) issues opaque, hashed access tokens and
single-use refresh tokens. Authlib's rfc6749 core does the protocol; this package stores
what it asks for and turns tokens into the same Principal that API keys become.
"""
