from django.db import migrations

# A published spec version is a record people cite: labels and gold cases point at it.
# The database refuses to change it, its clauses, their examples and their eval prompts,
# whatever path the change takes (ORM, QuerySet.update(), raw SQL), and in both directions:
# a row may neither move into a published version nor out of one, so every UPDATE checks the
# version the row had (OLD) as well as the version it would have (NEW). Only two transitions
# of a version are allowed: draft -> published, and published -> archived (status alone).
#
# A clause's parent is in the clause's own version: checked after each statement (a constraint
# trigger), so one UPDATE that moves a draft subtree to another draft as a whole is fine.
#
# Escape hatch: purging a workspace sets clausebook.allow_purge = on for its transaction (SET
# LOCAL), which lets every change through; nothing else sets it.
#
# The messages below are part of the contract: tests match them, and an API error handler may.
SQL = """
CREATE OR REPLACE FUNCTION specs_purge_allowed() RETURNS boolean AS $$
    SELECT coalesce(current_setting('clausebook.allow_purge', true), '') = 'on';
$$ LANGUAGE sql STABLE;

CREATE OR REPLACE FUNCTION specs_version_is_frozen(version bigint) RETURNS boolean AS $$
    SELECT coalesce((SELECT status <> 'draft' FROM specs_specversion WHERE id = version), false);
$$ LANGUAGE sql STABLE;

CREATE OR REPLACE FUNCTION specs_guard_version() RETURNS trigger AS $$
BEGIN
    IF specs_purge_allowed() THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' THEN
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

-- Clauses: OLD.version_id on UPDATE and DELETE (nothing leaves a published version),
-- NEW.version_id on INSERT and UPDATE (nothing enters one).
CREATE OR REPLACE FUNCTION specs_guard_clause() RETURNS trigger AS $$
BEGIN
    IF specs_purge_allowed() THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') AND specs_version_is_frozen(OLD.version_id) THEN
        RAISE EXCEPTION 'clauses of a published spec version cannot be changed or moved out'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND specs_version_is_frozen(NEW.version_id) THEN
        RAISE EXCEPTION 'clauses cannot be added to or moved into a published spec version'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER specs_clause_immutable
BEFORE INSERT OR UPDATE OR DELETE ON specs_clause
FOR EACH ROW EXECUTE FUNCTION specs_guard_clause();

-- Rows that belong to a clause (examples, eval prompts): the same two checks through the
-- clause's version. TG_ARGV[0] names the rows in the message.
CREATE OR REPLACE FUNCTION specs_guard_clause_content() RETURNS trigger AS $$
DECLARE
    what text := TG_ARGV[0];
BEGIN
    IF specs_purge_allowed() THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') AND specs_version_is_frozen(
        (SELECT version_id FROM specs_clause WHERE id = OLD.clause_id)
    ) THEN
        RAISE EXCEPTION '% of a published spec version cannot be changed or moved out', what
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND specs_version_is_frozen(
        (SELECT version_id FROM specs_clause WHERE id = NEW.clause_id)
    ) THEN
        RAISE EXCEPTION '% cannot be added to or moved into a published spec version', what
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER specs_example_immutable
BEFORE INSERT OR UPDATE OR DELETE ON specs_example
FOR EACH ROW EXECUTE FUNCTION specs_guard_clause_content('examples');

CREATE TRIGGER specs_evalprompt_immutable
BEFORE INSERT OR UPDATE OR DELETE ON specs_evalprompt
FOR EACH ROW EXECUTE FUNCTION specs_guard_clause_content('eval prompts');

-- A clause and its parent share a version, and a clause that changes version takes its
-- children along. AFTER ... INITIALLY IMMEDIATE: runs at the end of each statement, when the
-- whole statement's rows are in place.
CREATE OR REPLACE FUNCTION specs_check_clause_parent() RETURNS trigger AS $$
BEGIN
    IF NEW.parent_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM specs_clause WHERE id = NEW.parent_id AND version_id <> NEW.version_id
    ) THEN
        RAISE EXCEPTION 'clause % and its parent % are in different spec versions',
            NEW.id, NEW.parent_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.version_id IS DISTINCT FROM OLD.version_id AND EXISTS (
        SELECT 1 FROM specs_clause WHERE parent_id = NEW.id AND version_id <> NEW.version_id
    ) THEN
        RAISE EXCEPTION 'clause % and its children are in different spec versions', NEW.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER specs_clause_parent_same_version
AFTER INSERT OR UPDATE OF parent_id, version_id ON specs_clause
DEFERRABLE INITIALLY IMMEDIATE
FOR EACH ROW EXECUTE FUNCTION specs_check_clause_parent();
"""

REVERSE = """
DROP TRIGGER IF EXISTS specs_clause_parent_same_version ON specs_clause;
DROP TRIGGER IF EXISTS specs_evalprompt_immutable ON specs_evalprompt;
DROP TRIGGER IF EXISTS specs_example_immutable ON specs_example;
DROP TRIGGER IF EXISTS specs_clause_immutable ON specs_clause;
DROP TRIGGER IF EXISTS specs_specversion_immutable ON specs_specversion;
DROP FUNCTION IF EXISTS specs_check_clause_parent();
DROP FUNCTION IF EXISTS specs_guard_clause_content();
DROP FUNCTION IF EXISTS specs_guard_clause();
DROP FUNCTION IF EXISTS specs_guard_version();
DROP FUNCTION IF EXISTS specs_version_is_frozen(bigint);
DROP FUNCTION IF EXISTS specs_purge_allowed();
"""


class Migration(migrations.Migration):
    dependencies = [("specs", "0001_initial")]
    operations = [migrations.RunSQL(SQL, REVERSE)]
