"""Pipelines: DAGs of stages (shell commands or Python functions) with cached, tracked runs.

`service.run_pipeline` and `service.plan` are the API the CLI (`monoloop run`) and other
adapters call; `spec` holds the monoloop.yaml models, `dag` the pure graph logic.
"""
