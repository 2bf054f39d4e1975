from reviews.urls_campaigns import urlpatterns as campaign_urls
from reviews.urls_transcripts import urlpatterns as transcript_urls

app_name = "reviews"
urlpatterns = [*transcript_urls, *campaign_urls]
