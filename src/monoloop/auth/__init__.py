"""API tokens for the server: scopes, hashed storage, verification on every request.

`tokens` is plain data (the token format, scopes, durations); `service` keeps tokens in
the metadata DB (`api_tokens`) and checks them.
"""
