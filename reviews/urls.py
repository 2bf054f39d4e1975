from reviews.urls_adjudication import urlpatterns as adjudication_urls
from reviews.urls_agreement import urlpatterns as agreement_urls
from reviews.urls_amendment_threads import urlpatterns as amendment_thread_urls
from reviews.urls_campaigns import urlpatterns as campaign_urls
from reviews.urls_disputes import urlpatterns as dispute_urls
from reviews.urls_endpoints import urlpatterns as endpoint_urls
from reviews.urls_gold import urlpatterns as gold_urls
from reviews.urls_judges import urlpatterns as judge_urls
from reviews.urls_promotion import urlpatterns as promotion_urls
from reviews.urls_reruns import urlpatterns as rerun_urls

app_name = "reviews"
urlpatterns = [
    *campaign_urls,
    *agreement_urls,
    *dispute_urls,
    *adjudication_urls,
    *gold_urls,
    *promotion_urls,
    *amendment_thread_urls,
    *endpoint_urls,
    *judge_urls,
    *rerun_urls,
]
