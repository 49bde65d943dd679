"""Preprocessing of the raw corpora: metadata (gloss dictionary, info files, STMs) and resized frames."""
