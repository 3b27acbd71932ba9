"""Triggers the triggerer runs for the provider's deferrable sensors."""
