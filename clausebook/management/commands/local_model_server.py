"""``python manage.py local_model_server [--port 8765]``: run the Clausebook local model server
(development tool) on 127.0.0.1 in the foreground. It is not a model: see
``devtools/local_model_server.py`` for its routes, faults and deterministic answers. An endpoint
pointing at it needs the operator's ``CLAUSEBOOK_ALLOW_PRIVATE_HOSTS=127.0.0.1:<port>``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from devtools.local_model_server import NAME, LocalModelServer


class Command(BaseCommand):
    help = f"Run the {NAME} on 127.0.0.1."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8765)

    def handle(self, *args: Any, **options: Any) -> None:
        server = LocalModelServer(port=options["port"])
        self.stdout.write(
            f"{NAME} on {server.base_url} (answers are derived from a hash; Ctrl-C stops it)"
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
