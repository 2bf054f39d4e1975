from django.db import migrations

# A published spec version is a record people cite: labels and gold cases point at it.
# The database refuses to change it, its clauses or its examples, whatever path the
# change takes (ORM, QuerySet.update(), raw SQL). Only two transitions are allowed:
# draft -> published, and published -> archived (status alone).
# Purging a workspace sets clausebook.allow_purge = on for its transaction.
SQL = """
CREATE OR REPLACE FUNCTION specs_purge_allowed() RETURNS boolean AS $$
    SELECT coalesce(current_setting('clausebook.allow_purge', true), '') = 'on';
$$ LANGUAGE sql STABLE;

CREATE OR REPLACE FUNCTION specs_guard_version() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' AND NOT specs_purge_allowed() THEN
            RAISE EXCEPTION 'spec version % is published and cannot be deleted', OLD.id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status = 'draft' THEN
        RETURN NEW;
    END IF;
    IF OLD.status = 'published' AND NEW.status = 'archived'
       AND (to_jsonb(NEW) - 'status') = (to_jsonb(OLD) - 'status') THEN
        RETURN NEW;
    END IF;
    IF to_jsonb(NEW) = to_jsonb(OLD) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'spec version % is published and cannot be changed', OLD.id
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER specs_specversion_immutable
BEFORE UPDATE OR DELETE ON specs_specversion
FOR EACH ROW EXECUTE FUNCTION specs_guard_version();

CREATE OR REPLACE FUNCTION specs_guard_clause() RETURNS trigger AS $$
DECLARE
    version_status text;
BEGIN
    SELECT status INTO version_status FROM specs_specversion
        WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.version_id ELSE NEW.version_id END;
    IF version_status IS NOT NULL AND version_status <> 'draft' AND NOT specs_purge_allowed() THEN
        RAISE EXCEPTION 'clauses of a published spec version cannot be changed'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER specs_clause_immutable
BEFORE INSERT OR UPDATE OR DELETE ON specs_clause
FOR EACH ROW EXECUTE FUNCTION specs_guard_clause();

CREATE OR REPLACE FUNCTION specs_guard_example() RETURNS trigger AS $$
DECLARE
    version_status text;
BEGIN
    SELECT v.status INTO version_status FROM specs_clause c JOIN specs_specversion v ON v.id = c.version_id
        WHERE c.id = CASE WHEN TG_OP = 'DELETE' THEN OLD.clause_id ELSE NEW.clause_id END;
    IF version_status IS NOT NULL AND version_status <> 'draft' AND NOT specs_purge_allowed() THEN
        RAISE EXCEPTION 'examples of a published spec version cannot be changed'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER specs_example_immutable
BEFORE INSERT OR UPDATE OR DELETE ON specs_example
FOR EACH ROW EXECUTE FUNCTION specs_guard_example();
"""

REVERSE = """
DROP TRIGGER IF EXISTS specs_example_immutable ON specs_example;
DROP TRIGGER IF EXISTS specs_clause_immutable ON specs_clause;
DROP TRIGGER IF EXISTS specs_specversion_immutable ON specs_specversion;
DROP FUNCTION IF EXISTS specs_guard_example();
DROP FUNCTION IF EXISTS specs_guard_clause();
DROP FUNCTION IF EXISTS specs_guard_version();
DROP FUNCTION IF EXISTS specs_purge_allowed();
"""


class Migration(migrations.Migration):
    dependencies = [("specs", "0001_initial")]
    operations = [migrations.RunSQL(SQL, REVERSE)]
