"""Developer tools (offline checks); not part of the pipeline package."""
