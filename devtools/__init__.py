"""Development tools shipped with Clausebook (never models, never used in production paths)."""
