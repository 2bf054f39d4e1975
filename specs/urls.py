app_name = "specs"
urlpatterns: list = []
