from django.db import migrations

# The audit trail is append-only: the database itself refuses to rewrite history,
# whatever code path (ORM, .update(), raw SQL, admin) tries.
SQL = """
CREATE OR REPLACE FUNCTION clausebook_refuse_audit_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER clausebook_auditevent_append_only
BEFORE UPDATE OR DELETE ON clausebook_auditevent
FOR EACH ROW EXECUTE FUNCTION clausebook_refuse_audit_change();
"""

REVERSE = """
DROP TRIGGER IF EXISTS clausebook_auditevent_append_only ON clausebook_auditevent;
DROP FUNCTION IF EXISTS clausebook_refuse_audit_change();
"""


class Migration(migrations.Migration):
    dependencies = [("clausebook", "0001_initial")]
    operations = [migrations.RunSQL(SQL, REVERSE)]
