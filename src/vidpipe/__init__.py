"""vidpipe: an Asset Registry and continuity checks for AI video production."""

__version__ = "0.1.0"
