"""Continuous training: retraining policies, the controller that runs them, and schedules."""
