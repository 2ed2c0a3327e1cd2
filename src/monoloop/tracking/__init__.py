"""Experiment tracking: runs with params, stepped metrics, tags, artifacts and lineage.

`service` is the API every adapter (CLI, SDK, pipelines, server) calls; `sdk` is the
buffered client for training scripts; `where` is the run filter language.
"""
