from reviews.urls_adjudication import urlpatterns as adjudication_urls
from reviews.urls_agreement import urlpatterns as agreement_urls
from reviews.urls_campaigns import urlpatterns as campaign_urls
from reviews.urls_disputes import urlpatterns as dispute_urls
from reviews.urls_gold import urlpatterns as gold_urls

app_name = "reviews"
urlpatterns = [*campaign_urls, *agreement_urls, *dispute_urls, *adjudication_urls, *gold_urls]
