"""Pages of the training app."""

from django.urls import path

from training import views

app_name = "training"

urlpatterns: list = [
    path("models/", views.ModelListView.as_view(), name="model_list"),
    path("models/<int:pk>/", views.ModelDetailView.as_view(), name="model_detail"),
    path("models/<int:pk>/activate/", views.ModelActivateView.as_view(), name="model_activate"),
    path("models/<int:pk>/retire/", views.ModelRetireView.as_view(), name="model_retire"),
    path("jobs/", views.JobListView.as_view(), name="job_list"),
    path("jobs/new/", views.JobCreateView.as_view(), name="job_create"),
    path("jobs/<int:pk>/", views.JobDetailView.as_view(), name="job_detail"),
    path("jobs/<int:pk>/cancel/", views.JobCancelView.as_view(), name="job_cancel"),
    path("pool/", views.PoolView.as_view(), name="pool"),
    path("pool/<int:pk>/image", views.PoolImageView.as_view(), name="pool_image"),
    path("settings/", views.RetrainSettingsView.as_view(), name="retrain_settings"),
]
