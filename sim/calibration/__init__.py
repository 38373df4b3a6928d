"""Calibration of the cost presets against published measurements (docs/calibration.md)."""
