"""Serving: registered models as HTTP services that follow the registry's aliases."""
