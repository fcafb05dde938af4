"""REST API v1 routes of the training app."""

urlpatterns: list = []
