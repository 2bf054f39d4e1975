from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    # allauth's rate limits need a cache shared by every process; without Redis that is
    # the database cache, whose table must exist before the first sign-in.
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("clausebook", "0002_audit_append_only")]
    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
