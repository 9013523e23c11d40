"""`python -m leadsync`."""

from .cli import main

main()
