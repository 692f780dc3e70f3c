"""crome-audit: audit reward models for reward hacking, and train causally robust ones (Crome).

Quick start (CPU, embedded sample data):

    crome-audit run --rm length --out reports/length

See README.md for the full tour.
"""

__version__ = "0.1.0"
