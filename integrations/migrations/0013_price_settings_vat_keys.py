"""The prices flow's fortnox_prices_include_vat and norce_prices_include_vat are now
source_prices_include_vat and target_prices_include_vat (the flow names no system); stored
values move to the new keys, and back on reverse."""

from django.db import migrations

RENAMES = {"fortnox_prices_include_vat": "source_prices_include_vat", "norce_prices_include_vat": "target_prices_include_vat"}


def rename(apps, names: dict[str, str]) -> None:
    Flow = apps.get_model("integrations", "Flow")
    for flow in Flow.objects.filter(kind="prices_to_commerce"):
        settings = dict(flow.settings or {})
        moved = {names[key]: settings.pop(key) for key in list(settings) if key in names}
        if moved:
            Flow.objects.filter(pk=flow.pk).update(settings={**settings, **moved})


def forwards(apps, schema_editor) -> None:
    rename(apps, RENAMES)


def backwards(apps, schema_editor) -> None:
    rename(apps, {new: old for old, new in RENAMES.items()})


class Migration(migrations.Migration):
    dependencies = [("integrations", "0012_connector_system_declared")]

    operations = [migrations.RunPython(forwards, backwards)]
