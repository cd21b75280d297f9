app_name = "alliances"
urlpatterns: list = []
