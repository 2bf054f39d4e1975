"""Model judges, framework-free: the prompt template (``prompts``) and the answer's schema
(``schema``). The service that runs a judge is ``reviews.services.judges``."""
