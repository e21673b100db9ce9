"""``python -m vidpipe``: the same as the ``vidpipe`` command."""

from vidpipe.cli.app import main

main()
