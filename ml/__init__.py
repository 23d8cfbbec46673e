"""First-Buy pipeline: the Python half (training, scoring, registry, QC, demo world).

Nothing here does work at import time; the CLI in orchestrate.py calls into the modules.
"""

__version__ = "0.1.0"
