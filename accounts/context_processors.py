from .roles import is_admin


def roles(request):
    user = getattr(request, "user", None)
    return {"is_admin_role": is_admin(user)}
