"""The configuration: schema.py (every key, its default and meaning), merge.py (files and overrides into
one checked Config), command_line.py (main.py's flags)."""
