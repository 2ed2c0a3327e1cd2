"""The monoloop server: REST API v1 over the service layer, for remote SDKs, CLIs and CI.

    app = create_app(ServerSettings(root=Path("."), host="127.0.0.1", port=8700))

`app` builds the FastAPI app (no state until its lifespan opens the workspace); `deps`
holds the typed dependencies (the caller's token and scope, a workspace acting as it);
`guards` refuses form posts and foreign Host headers before any route runs; `errors`
turns MonoloopError into HTTP in exactly one place; one router module per resource.
"""
