"""``python -m crome_audit`` is the same as the ``crome-audit`` command."""

from .cli import main

main()
