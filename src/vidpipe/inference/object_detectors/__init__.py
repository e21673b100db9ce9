"""Adapters for the object-detector export formats users bring."""
