"""Create the first Admin account once and print its credentials (used by `make run`)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.models import User
from accounts.roles import ADMIN, ensure_roles, set_role
from accounts.services import first_admin_file, generate_password
from maskportal.private_files import write_private


class Command(BaseCommand):
    help = "Create the first admin user if no admin exists yet; print its credentials."

    def handle(self, *args, **options):
        ensure_roles()
        if User.objects.filter(groups__name=ADMIN).exists() or User.objects.filter(is_superuser=True).exists():
            self.stdout.write("An admin account already exists; credentials unchanged.")
            return
        password = settings.FIRST_ADMIN_PASSWORD or generate_password()
        user = User.objects.create_superuser(
            username=settings.FIRST_ADMIN_USERNAME,
            email=settings.FIRST_ADMIN_EMAIL,
            password=password,
            must_change_password=not settings.FIRST_ADMIN_PASSWORD,  # a generated one is changed at first login
        )
        set_role(user, ADMIN)
        write_private(first_admin_file(), f"username: {user.username}\npassword: {password}\n")
        self.stdout.write(self.style.SUCCESS("Created the first admin account:"))
        self.stdout.write(f"  username: {user.username}\n  password: {password}")
        self.stdout.write(f"  (also saved in {first_admin_file()} until you change it at the first login)")
