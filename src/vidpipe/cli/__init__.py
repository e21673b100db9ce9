"""The ``vidpipe`` command line."""
