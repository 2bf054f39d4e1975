from django.apps import AppConfig


class ClausebookConfig(AppConfig):
    name = "clausebook"
    verbose_name = "Clausebook platform"

    def ready(self) -> None:
        from clausebook.celery import ensure_broker_folders

        ensure_broker_folders()
