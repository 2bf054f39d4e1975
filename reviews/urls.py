from reviews.urls_campaigns import urlpatterns as campaign_urls

app_name = "reviews"
urlpatterns = [*campaign_urls]
