"""``python -m verifier`` runs ``por-verify``."""

from verifier.cli import main

main()
