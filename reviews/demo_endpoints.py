"""Demo model endpoints: the local model server the demo runs (a development tool, named as one),
and a real endpoint when ``OPENAI_API_KEY`` is set.

``manage.py demo`` starts the local model server and passes its address in
``CLAUSEBOOK_DEMO_MODEL_SERVER_URL``; the operator's allow-list (``CLAUSEBOOK_ALLOW_PRIVATE_HOSTS``)
is what lets an endpoint reach it. Idempotent: an endpoint of the same name is updated to the
current address (the server's port can change between runs), never duplicated.

A real endpoint the guard refuses (``OPENAI_BASE_URL`` naming a private address the operator has
not allowed, or not a URL at all) is left out with a line saying why: the demo still starts.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.exceptions import ValidationError

from reviews.models import ModelEndpoint
from reviews.services.endpoints import EndpointInput, endpoint_create, endpoint_update

LOCAL_NAME = "Local model server (development tool)"
#: What the endpoint page says about it: a development server, never a model.
LOCAL_MODEL = "clausebook-local-dev"
REAL_NAME = "OpenAI (from OPENAI_API_KEY)"


def _upsert(workspace: Any, actor: Any, data: EndpointInput) -> ModelEndpoint:
    current = ModelEndpoint.objects.filter(workspace=workspace, name=data.name).first()
    if current is None:
        return endpoint_create(workspace=workspace, actor=actor, data=data)
    if current.base_url == data.base_url and current.model == data.model and data.secret is None:
        return current
    return endpoint_update(endpoint=current, actor=actor, data=data)


def seed(platform: Any, stdout: Any) -> None:
    workspace, admin = platform.workspace, platform.users["admin"]
    local_url = os.environ.get("CLAUSEBOOK_DEMO_MODEL_SERVER_URL", "")
    if local_url:
        _upsert(
            workspace,
            admin,
            EndpointInput(
                name=LOCAL_NAME,
                base_url=local_url,
                model=LOCAL_MODEL,
                parameters={"temperature": 0},
                timeout_seconds=30,
                concurrency=8,
            ),
        )
        stdout.write(f"endpoints: {LOCAL_NAME} at {local_url}")
    if os.environ.get("OPENAI_API_KEY"):
        base_url = os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        try:
            _upsert(
                workspace,
                admin,
                EndpointInput(
                    name=REAL_NAME,
                    base_url=base_url,
                    model=os.environ.get("OPENAI_MODEL") or "gpt-4o-mini",
                    parameters={},
                    secret=os.environ["OPENAI_API_KEY"],
                ),
            )
        except ValidationError as error:
            by_field = error.message_dict if hasattr(error, "error_dict") else {"": error.messages}
            problems = "; ".join(
                f"{field}: {' '.join(messages)}" if field else " ".join(messages)
                for field, messages in by_field.items()
            )
            stdout.write(
                f"endpoints: {REAL_NAME} left out ({problems}). A server on this machine or "
                "network needs CLAUSEBOOK_ALLOW_PRIVATE_HOSTS=host:port in the environment."
            )
        else:
            stdout.write(f"endpoints: {REAL_NAME} at {base_url}")
