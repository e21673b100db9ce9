"""Face detector implementations."""
