"""Pages of the detection app; each feature keeps its own section."""

from django.urls import path  # noqa: F401  (used by the sections below)

from detection.views import analysis  # issue 5
from detection.views import live as live_views  # issue 7
from detection.views import registry as registry_views  # issue 6
from detection.views import settings as settings_views  # issue 6

app_name = "detection"

urlpatterns: list = [
    # --- photo analysis, batches, detection log (issue 5) ---
    path("analyse/", analysis.UploadView.as_view(), name="upload"),
    path("detections/", analysis.LogListView.as_view(), name="log_list"),
    path("detections/export.csv", analysis.LogExportView.as_view(), name="log_export"),
    path("detections/<int:pk>/", analysis.LogDetailView.as_view(), name="log_detail"),
    path("detections/<int:pk>/image.jpg", analysis.LogImageView.as_view(), name="log_image"),
    path("detections/<int:pk>/review/", analysis.LogReviewView.as_view(), name="log_review"),
    path("faces/<int:pk>/crop.jpg", analysis.FaceCropView.as_view(), name="face_crop"),
    path("faces/<int:pk>/review/", analysis.FaceReviewView.as_view(), name="face_review"),
    path("batches/", analysis.BatchListView.as_view(), name="batch_list"),
    path("batches/<int:pk>/", analysis.BatchDetailView.as_view(), name="batch_detail"),
    path("batches/<int:pk>/cancel/", analysis.BatchCancelView.as_view(), name="batch_cancel"),
    path("batches/<int:pk>/retry/", analysis.BatchRetryView.as_view(), name="batch_retry"),
    # --- registered faces (issue 6) ---
    path("people/", registry_views.PersonListView.as_view(), name="person_list"),
    path("people/new/", registry_views.PersonCreateView.as_view(), name="person_create"),
    path("people/import/", registry_views.PersonImportView.as_view(), name="person_import"),
    path("people/import/<int:pk>/", registry_views.ImportDetailView.as_view(), name="person_import_detail"),
    path("people/<int:pk>/", registry_views.PersonDetailView.as_view(), name="person_detail"),
    path("people/import/<int:pk>/retry/", registry_views.ImportRetryView.as_view(), name="person_import_retry"),
    path("people/<int:pk>/active/", registry_views.PersonDeactivateView.as_view(), name="person_deactivate"),
    path("people/<int:pk>/delete/", registry_views.PersonDeleteView.as_view(), name="person_delete"),
    # --- consent, subject access and erasure (issue 18) ---
    path("people/<int:pk>/edit/", registry_views.PersonUpdateView.as_view(), name="person_edit"),
    path("people/<int:pk>/consent/", registry_views.PersonConsentView.as_view(), name="person_consent"),
    path(
        "people/<int:pk>/consent/document/",
        registry_views.PersonConsentDocumentView.as_view(),
        name="person_consent_document",
    ),
    path("people/<int:pk>/withdraw/", registry_views.PersonWithdrawView.as_view(), name="person_withdraw"),
    path("people/<int:pk>/export.zip", registry_views.PersonExportView.as_view(), name="person_export"),
    path("samples/<int:pk>/image.jpg", registry_views.SampleImageView.as_view(), name="sample_image"),
    path("samples/<int:pk>/delete/", registry_views.SampleDeleteView.as_view(), name="sample_delete"),
    path("faces/<int:pk>/promote/", registry_views.FacePromoteView.as_view(), name="face_promote"),
    path("settings/", settings_views.SettingsView.as_view(), name="settings"),
    # --- live cameras (issue 7) ---
    path("live/", live_views.LivePageView.as_view(), name="live"),
    path("cameras/", live_views.CameraListView.as_view(), name="camera_list"),
    path("cameras/new/", live_views.CameraCreateView.as_view(), name="camera_create"),
    path("cameras/<int:pk>/", live_views.CameraDetailView.as_view(), name="camera_detail"),
    path("cameras/<int:pk>/edit/", live_views.CameraUpdateView.as_view(), name="camera_update"),
    path("cameras/<int:pk>/delete/", live_views.CameraDeleteView.as_view(), name="camera_delete"),
    path("webhooks/", live_views.WebhookListView.as_view(), name="webhook_list"),
    path("webhooks/new/", live_views.WebhookCreateView.as_view(), name="webhook_create"),
    path("webhooks/<int:pk>/edit/", live_views.WebhookUpdateView.as_view(), name="webhook_update"),
    path("webhooks/<int:pk>/test/", live_views.WebhookTestView.as_view(), name="webhook_test"),
    path("webhooks/<int:pk>/delete/", live_views.WebhookDeleteView.as_view(), name="webhook_delete"),
]
