"""One module per file format, each with ``load_*`` / ``save_*`` functions."""
