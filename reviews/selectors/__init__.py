"""Composed reads for the reviews app, one module per sub-domain (``campaigns``, ``labels``)."""
