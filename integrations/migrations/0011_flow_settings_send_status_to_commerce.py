"""The orders flow's setting send_status_to_norce is now send_status_to_commerce (the flow
names no system); stored values move to the new key, and back on reverse."""

from django.db import migrations

OLD, NEW = "send_status_to_norce", "send_status_to_commerce"


def rename(apps, old: str, new: str) -> None:
    Flow = apps.get_model("integrations", "Flow")
    for flow in Flow.objects.filter(kind="orders_to_erp"):
        settings = dict(flow.settings or {})
        if old in settings:
            settings[new] = settings.pop(old)
            Flow.objects.filter(pk=flow.pk).update(settings=settings)


def forwards(apps, schema_editor) -> None:
    rename(apps, OLD, NEW)


def backwards(apps, schema_editor) -> None:
    rename(apps, NEW, OLD)


class Migration(migrations.Migration):
    dependencies = [("integrations", "0010_entity_create_unconfirmed")]

    operations = [migrations.RunPython(forwards, backwards)]
