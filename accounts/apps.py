from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (audit receivers)
        from .authentication import connect_invalidation
        from .roles import ensure_roles

        connect_invalidation()
        # Permissions only exist after every app migrated, so roles are synced then.
        post_migrate.connect(lambda **kwargs: ensure_roles(), dispatch_uid="accounts.ensure_roles", weak=False)
