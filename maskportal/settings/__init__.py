"""Settings are split by mode (cookiecutter-django style); DJANGO_SETTINGS_MODULE picks one."""
