"""Sensors of the model registry provider."""
