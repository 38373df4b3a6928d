"""Broker models, one package per system."""
