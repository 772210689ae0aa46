"""The orders flow's customer links get their own data type, "order_customer", so the
master-data customers flow (ERP → webshop) owns "customer"."""
from django.db import migrations

MODELS = ("Entity", "Reference", "LogEntry")


def forwards(apps, schema_editor):
    for name in MODELS:
        apps.get_model("integrations", name).objects.filter(data_type="customer").update(data_type="order_customer")


def backwards(apps, schema_editor):
    for name in MODELS:
        apps.get_model("integrations", name).objects.filter(data_type="order_customer").update(data_type="customer")


class Migration(migrations.Migration):
    dependencies = [("integrations", "0005_connect_jobs")]
    operations = [migrations.RunPython(forwards, backwards)]
