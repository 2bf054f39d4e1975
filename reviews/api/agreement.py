"""REST API for a campaign's agreement report (``reviews.selectors.agreement``).

The same dict the ``agreement`` command prints and the campaign's agreement page draws; it is
cached and recomputed after any label change in the campaign. Read access is the campaign's:
any member who may read campaigns; another workspace's campaign is 404.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clausebook.access import WorkspaceAPIMixin
from reviews.selectors import campaigns as campaign_selectors


class CampaignAgreementView(WorkspaceAPIMixin, APIView):
    read_permission = "campaigns.read"

    @extend_schema(
        summary="A campaign's agreement report",
        description=(
            "Krippendorff's alpha (nominal; ordinal where the scale is ordered), Fleiss' kappa "
            "(form for a varying number of raters), Gwet's AC1 and percent agreement per clause "
            "and for the campaign, with 95% bootstrap intervals (1,000 draws, seeded) for alpha "
            "and AC1; per reviewer against the others and against adjudicated gold; the "
            "pairwise Cohen's kappa matrix; confusion matrices; first submissions beside final "
            "labels; model judges against gold. Every figure has `n_items` and `n_labels`."
        ),
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="The report"),
            404: OpenApiResponse(description="No such campaign in this workspace"),
        },
    )
    def get(self, request: Request, workspace: str, campaign_id: int) -> Response:
        from reviews.selectors.agreement import campaign_agreement  # numpy: only for this call

        campaign = campaign_selectors.get_campaign(self.workspace, campaign_id)
        return Response(campaign_agreement(campaign))
