from pathlib import Path

from django.apps import AppConfig
from django.conf import settings


class ClausebookConfig(AppConfig):
    name = "clausebook"
    verbose_name = "Clausebook platform"

    def ready(self) -> None:
        from clausebook import logfilters

        logfilters.install()  # tokens in URLs stay out of the access logs
        # The filesystem broker needs its folders before anyone sends or consumes.
        for key in ("data_folder_in", "processed_folder", "control_folder"):
            folder = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}).get(key)
            if folder:
                Path(folder).mkdir(parents=True, exist_ok=True)
