"""Describer implementations: offline now, remote vision models later."""
