"""Login, profile (password, API token) and the Admin role's user management pages."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.views import View
from django.views.generic import ListView
from rest_framework.authtoken.models import Token

from . import services
from .forms import EmailForm, RoleForm, UserCreateForm
from .models import AuditEvent, User
from .permissions import AdminRequiredMixin
from .roles import role_of


class PasswordChangeView(auth_views.PasswordChangeView):
    """Also the page every other page redirects to while a generated password is unchanged."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:profile")

    def form_valid(self, form):
        forced = self.request.user.must_change_password
        response = super().form_valid(form)
        services.password_changed(self.request.user, request=self.request)
        messages.success(self.request, "Your password was changed.")
        return redirect("dashboard") if forced else response


class ProfileView(LoginRequiredMixin, View):
    template_name = "accounts/profile.html"

    def get(self, request):
        token = Token.objects.filter(user=request.user).first()
        return render(request, self.template_name, {"token": token, "role": role_of(request.user)})

    def post(self, request):
        action = request.POST.get("action")
        if action == "create_token":
            services.create_token(request.user, request=request)
            messages.success(request, "A new API token was created; the previous one no longer works.")
        elif action == "revoke_token":
            if services.revoke_token(request.user, request=request):
                messages.success(request, "Your API token was revoked.")
            else:
                messages.info(request, "You had no API token.")
        else:
            messages.error(request, "Unknown action.")
        return redirect("accounts:profile")


class UserListView(AdminRequiredMixin, ListView):
    template_name = "accounts/user_list.html"
    paginate_by = 25
    permission_required = "accounts.manage_users"

    def get_queryset(self):
        users = User.objects.prefetch_related("groups").order_by("username")
        query = self.request.GET.get("q", "").strip()
        if query:
            users = users.filter(Q(username__icontains=query) | Q(email__icontains=query))
        return users


class UserCreateView(AdminRequiredMixin, View):
    template_name = "accounts/user_form.html"
    permission_required = "accounts.manage_users"

    def get(self, request):
        return render(request, self.template_name, {"form": UserCreateForm()})

    def post(self, request):
        form = UserCreateForm(request.POST)
        if not form.is_valid():
            return render(request, self.template_name, {"form": form}, status=400)
        user, password = services.create_user(**form.cleaned_data, request=request)
        if form.cleaned_data["password"]:
            messages.success(request, f"User {user.username} created.")
        else:
            messages.success(request, f"User {user.username} created. Initial password (shown once): {password}")
        return redirect("accounts:user_detail", pk=user.pk)


class UserDetailView(AdminRequiredMixin, View):
    template_name = "accounts/user_detail.html"
    permission_required = "accounts.manage_users"

    def get(self, request, pk):
        user = get_object_or_404(User, pk=pk)
        return self.render(user)

    def render(self, user: User, email_form: EmailForm | None = None, status: int = 200, **extra):
        context = extra | {
            "subject": user,
            "form": RoleForm(initial={"role": role_of(user) or "Staff"}),
            "email_form": email_form or EmailForm(initial={"email": user.email}),
            "events": AuditEvent.objects.filter(Q(target=user) | Q(actor=user))[:20],
            "owned": {"batches": user.batch_jobs.count(), "imports": user.face_imports.count()},
            "locked_out": services.locked_out(user),
        }
        return render(self.request, self.template_name, context, status=status)

    def post(self, request, pk):
        user = get_object_or_404(User, pk=pk)
        action = request.POST.get("action")
        if user == request.user and action in ("disable", "role", "delete", "reset_password"):
            messages.error(
                request,
                "You cannot disable, delete or reset yourself or change your own role; "
                "change your own password from your profile.",
            )
            return redirect("accounts:user_detail", pk=pk)
        if action == "email":
            form = EmailForm(request.POST)
            if not form.is_valid():
                return self.render(user, email_form=form, status=400)
            services.change_email(user, form.cleaned_data["email"], request=request)
            messages.success(request, f"The email of {user.username} was saved.")
        elif action == "reset_password":
            # Rendered, not redirected: the password is shown once and never stored in a message cookie.
            return self.render(user, new_password=services.reset_password(user, request=request))
        elif action == "delete":
            try:
                services.delete_user(user, request=request)
            except services.UserChangeRefused as exc:
                messages.error(request, str(exc))
                return redirect("accounts:user_detail", pk=pk)
            messages.success(request, f"User {user.username} was deleted.")
            return redirect("accounts:user_list")
        elif action == "role":
            form = RoleForm(request.POST)
            if form.is_valid():
                services.change_role(user, form.cleaned_data["role"], request=request)
                messages.success(request, f"{user.username} is now {form.cleaned_data['role']}.")
            else:
                messages.error(request, "Choose a valid role.")
        elif action == "unlock":
            services.unlock(user, request=request)
            messages.success(request, f"{user.username} can log in again.")
        elif action in ("disable", "enable"):
            services.set_active(user, action == "enable", request=request)
            messages.success(request, f"{user.username} was {action}d.")
        else:
            messages.error(request, "Unknown action.")
        return redirect("accounts:user_detail", pk=pk)


class AuditListView(AdminRequiredMixin, ListView):
    template_name = "accounts/audit_list.html"
    paginate_by = 50
    permission_required = "accounts.view_audit"

    def get_queryset(self):
        events = AuditEvent.objects.select_related("actor", "target")
        kind = self.request.GET.get("kind")
        if kind:
            events = events.filter(kind=kind)
        query = self.request.GET.get("q", "").strip()
        if query:
            events = events.filter(Q(username__icontains=query) | Q(object_repr__icontains=query))
        object_type, object_id = self.request.GET.get("object_type"), self.request.GET.get("object_id")
        if object_type and object_id:  # one object's history, e.g. from a person's page
            events = events.filter(object_type=object_type, object_id=object_id)
        return events

    def get_context_data(self, **kwargs):
        return super().get_context_data(kinds=AuditEvent.Kind.choices, **kwargs)
