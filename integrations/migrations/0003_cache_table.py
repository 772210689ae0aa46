from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    # The default cache is the database (shared by web and q clusters); with Redis
    # configured this does nothing.
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("integrations", "0002_system_schedules")]
    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
