"""The real URLconf plus one app-served clause panel, for the clause page's extension point."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from clausebook.urls import urlpatterns as clausebook_urlpatterns


def clause_panel(
    request: HttpRequest, workspace: str, spec: str, label: str, key: str
) -> HttpResponse:
    return HttpResponse(f'<section class="card" id="test-panel">Panel for {key}</section>')


panel_patterns = (
    [
        path(
            "w/<slug:workspace>/panel/<slug:spec>/<str:label>/<str:key>/",
            clause_panel,
            name="clause-panel",
        )
    ],
    "panel-test",
)

urlpatterns = [path("", include(panel_patterns)), *clausebook_urlpatterns]
