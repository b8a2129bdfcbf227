"""A covering index for the alert scan's pass over each patient's contacts.

`alerts._contact_history` reads every contact of the patients with a current coach in
the order (patient, newest first) with the outcome, pain and manual share. On
PostgreSQL this index gives that order with no sort and no table access (an index-only
scan): at 100,000 active patients and 1,000,000 contacts the scan took 9 to 13 s
without it and 3 to 5 s with it (benchmarks/README.md, alert scan). It is created here,
with the rule that needs it, rather than in `coaching`, whose models do not depend on
the scan; SQLite (the embedded default, small) gets the same columns as a plain index.
"""

from django.db import migrations

NAME = "supervision_contact_history"


def create(apps, schema_editor):
    table = schema_editor.quote_name("coaching_contact")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {NAME} ON {table} "
            "(patient_id, occurred_at DESC, id DESC) "
            "INCLUDE (outcome, pain_today, curriculum_percent)")
    else:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {NAME} ON {table} "
            "(patient_id, occurred_at DESC, id DESC, outcome, pain_today, curriculum_percent)")


def drop(apps, schema_editor):
    schema_editor.execute(f"DROP INDEX IF EXISTS {NAME}")


class Migration(migrations.Migration):

    dependencies = [
        ("coaching", "0001_initial"),
        ("supervision", "0005_assessment_overdue_alert"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
