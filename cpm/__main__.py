"""`python -m cpm` runs the command line, as the installed `cpm` script does."""

from cpm.cli.main import run

run()
