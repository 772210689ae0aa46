from django.apps import AppConfig
from django.db.models.signals import post_migrate


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from integrations import schedules

        post_migrate.connect(
            lambda **kwargs: schedules.on_post_migrate(**kwargs),
            sender=self,
            weak=False,
            dispatch_uid="brygga-system-schedules",
        )
