"""Alerts: rule decisions, rendering and delivery."""
