from django.apps import AppConfig


class ImusersConfig(AppConfig):
    name = "apps.imusers"
    label = "imusers"
