from reviews.api.campaigns import urlpatterns as campaign_urls
from reviews.api.transcripts import urlpatterns as transcript_urls

urlpatterns = [*transcript_urls, *campaign_urls]
