"""CI integration: pipeline definitions for GitLab CI and GitHub Actions."""
