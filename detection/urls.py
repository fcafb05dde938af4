"""Pages of the detection app; each feature keeps its own section."""

from django.urls import path  # noqa: F401  (used by the sections below)

app_name = "detection"

urlpatterns: list = [
    # --- photo analysis, batches, detection log (issue 5) ---
    # --- registered faces (issue 6) ---
    # --- live cameras (issue 7) ---
]
