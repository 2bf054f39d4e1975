"""Writes for transcripts, imports, campaigns and labels: see the submodules."""
