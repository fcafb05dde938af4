"""REST API v1 routes of the detection app; each feature keeps its own section."""

from rest_framework.routers import DefaultRouter

router = DefaultRouter()
# --- analysis, detections, batches, stats (issue 5) ---
# --- people, faces, recognize (issue 6) ---
# --- cameras (issue 7) ---

urlpatterns: list = [*router.urls]
