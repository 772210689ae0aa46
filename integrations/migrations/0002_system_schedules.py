from django.db import migrations
from django.utils import timezone


def create_sweeper(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.get_or_create(
        name="brygga-sweeper",
        defaults={"func": "integrations.jobs.sweep", "schedule_type": "I", "minutes": 1, "repeats": -1,
                  "next_run": timezone.now()},
    )


class Migration(migrations.Migration):
    dependencies = [("integrations", "0001_initial"), ("django_q", "0018_task_success_index")]
    operations = [migrations.RunPython(create_sweeper, migrations.RunPython.noop)]
