"""Pipelines: DAGs of stages (shell commands or Python functions) with cached, tracked runs.

`service.run_pipeline` and `service.plan` are the API the CLI (`monoloop run`) and other
adapters call, `sweep.sweep` the one behind `monoloop sweep`; `spec` holds the
monoloop.yaml models, `dag` the pure graph logic, `coordinator` the loop that runs
stages on an executor (`executor` local processes, `ray_executor` Ray tasks), both
through `process`.
"""
