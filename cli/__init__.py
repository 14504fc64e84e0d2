"""`shangluo`: the command line (one module per command; `main` parses the arguments)."""
