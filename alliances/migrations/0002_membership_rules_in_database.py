"""Membership rules enforced by the database itself, below every form and service.

PostgreSQL: exclusion constraints (btree_gist) for "one alliance per institution
on any date" and "one lead per alliance on any date", a trigger for "same
county", and a deferred constraint trigger for "a lead on every day the
alliance has members" (checked at commit, so a change of lead can be made in
several statements). SQLite: triggers for the first three rules; the lead
coverage rule is checked by the services there.
"""

from django.db import migrations

T = "alliances_alliancemembership"

POSTGRES_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    f"""ALTER TABLE {T} ADD CONSTRAINT membership_one_alliance_per_day
        EXCLUDE USING gist (institution_id WITH =, daterange(valid_from, valid_to, '[]') WITH &&)""",
    f"""ALTER TABLE {T} ADD CONSTRAINT membership_one_lead_per_day
        EXCLUDE USING gist (alliance_id WITH =, daterange(valid_from, valid_to, '[]') WITH &&)
        WHERE (role = 'lead')""",
    f"""CREATE FUNCTION alliances_membership_same_county() RETURNS trigger AS $$
        BEGIN
            IF (SELECT county_id FROM alliances_institution WHERE id = NEW.institution_id)
               IS DISTINCT FROM (SELECT county_id FROM alliances_alliance WHERE id = NEW.alliance_id) THEN
                RAISE EXCEPTION 'membership_same_county: institution % and alliance % are in different counties',
                    NEW.institution_id, NEW.alliance_id USING ERRCODE = 'check_violation';
            END IF;
            RETURN NEW;
        END $$ LANGUAGE plpgsql""",
    f"""CREATE TRIGGER membership_same_county BEFORE INSERT OR UPDATE ON {T}
        FOR EACH ROW EXECUTE FUNCTION alliances_membership_same_county()""",
    """CREATE FUNCTION alliances_county_change_guard() RETURNS trigger AS $$
        BEGIN
            IF NEW.county_id IS DISTINCT FROM OLD.county_id AND EXISTS (
                SELECT 1 FROM alliances_alliancemembership m
                WHERE (TG_TABLE_NAME = 'alliances_institution' AND m.institution_id = NEW.id)
                   OR (TG_TABLE_NAME = 'alliances_alliance' AND m.alliance_id = NEW.id)
            ) THEN
                RAISE EXCEPTION 'membership_same_county: % % has memberships; its county cannot change',
                    TG_TABLE_NAME, NEW.id USING ERRCODE = 'check_violation';
            END IF;
            RETURN NEW;
        END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER institution_county_fixed BEFORE UPDATE OF county_id ON alliances_institution
        FOR EACH ROW EXECUTE FUNCTION alliances_county_change_guard()""",
    """CREATE TRIGGER alliance_county_fixed BEFORE UPDATE OF county_id ON alliances_alliance
        FOR EACH ROW EXECUTE FUNCTION alliances_county_change_guard()""",
    f"""CREATE FUNCTION alliances_membership_lead_cover() RETURNS trigger AS $$
        DECLARE
            target bigint;
        BEGIN
            FOR target IN
                SELECT DISTINCT x FROM (VALUES
                    (CASE WHEN TG_OP <> 'INSERT' THEN OLD.alliance_id END),
                    (CASE WHEN TG_OP <> 'DELETE' THEN NEW.alliance_id END)) AS v(x)
                WHERE x IS NOT NULL
            LOOP
                IF EXISTS (
                    SELECT 1 FROM {T} m
                    WHERE m.alliance_id = target AND m.role = 'member'
                      AND NOT daterange(m.valid_from, m.valid_to, '[]') <@ COALESCE(
                          (SELECT range_agg(daterange(l.valid_from, l.valid_to, '[]')) FROM {T} l
                           WHERE l.alliance_id = target AND l.role = 'lead'),
                          '{{}}'::datemultirange)
                ) THEN
                    RAISE EXCEPTION 'membership_lead_cover: alliance % has members on a day without a lead', target
                        USING ERRCODE = 'check_violation';
                END IF;
            END LOOP;
            RETURN NULL;
        END $$ LANGUAGE plpgsql""",
    f"""CREATE CONSTRAINT TRIGGER membership_lead_cover AFTER INSERT OR UPDATE OR DELETE ON {T}
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION alliances_membership_lead_cover()""",
]

POSTGRES_BACKWARD = [
    "DROP TRIGGER IF EXISTS institution_county_fixed ON alliances_institution",
    "DROP TRIGGER IF EXISTS alliance_county_fixed ON alliances_alliance",
    "DROP FUNCTION IF EXISTS alliances_county_change_guard()",
    f"DROP TRIGGER IF EXISTS membership_lead_cover ON {T}",
    "DROP FUNCTION IF EXISTS alliances_membership_lead_cover()",
    f"DROP TRIGGER IF EXISTS membership_same_county ON {T}",
    "DROP FUNCTION IF EXISTS alliances_membership_same_county()",
    f"ALTER TABLE {T} DROP CONSTRAINT IF EXISTS membership_one_lead_per_day",
    f"ALTER TABLE {T} DROP CONSTRAINT IF EXISTS membership_one_alliance_per_day",
]


def _sqlite_triggers():
    overlap = (
        "m.valid_from <= COALESCE(NEW.valid_to, '9999-12-31') "
        "AND NEW.valid_from <= COALESCE(m.valid_to, '9999-12-31')"
    )
    statements = []
    for event, not_self in (("INSERT", ""), ("UPDATE", "AND m.id <> NEW.id")):
        low = event.lower()
        statements += [
            f"""CREATE TRIGGER membership_one_alliance_per_day_{low} BEFORE {event} ON {T}
                WHEN EXISTS (SELECT 1 FROM {T} m WHERE m.institution_id = NEW.institution_id {not_self}
                             AND {overlap})
                BEGIN SELECT RAISE(ABORT, 'membership_one_alliance_per_day'); END""",
            f"""CREATE TRIGGER membership_one_lead_per_day_{low} BEFORE {event} ON {T}
                WHEN NEW.role = 'lead' AND EXISTS (
                    SELECT 1 FROM {T} m WHERE m.alliance_id = NEW.alliance_id AND m.role = 'lead' {not_self}
                    AND {overlap})
                BEGIN SELECT RAISE(ABORT, 'membership_one_lead_per_day'); END""",
            f"""CREATE TRIGGER membership_same_county_{low} BEFORE {event} ON {T}
                WHEN (SELECT county_id FROM alliances_institution WHERE id = NEW.institution_id)
                     IS NOT (SELECT county_id FROM alliances_alliance WHERE id = NEW.alliance_id)
                BEGIN SELECT RAISE(ABORT, 'membership_same_county'); END""",
        ]
    for table, column in (("alliances_institution", "institution_id"), ("alliances_alliance", "alliance_id")):
        statements.append(
            f"""CREATE TRIGGER {table}_county_fixed BEFORE UPDATE OF county_id ON {table}
                WHEN NEW.county_id IS NOT OLD.county_id AND EXISTS (SELECT 1 FROM {T} m WHERE m.{column} = NEW.id)
                BEGIN SELECT RAISE(ABORT, 'membership_same_county'); END"""
        )
    return statements


SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS alliances_institution_county_fixed",
    "DROP TRIGGER IF EXISTS alliances_alliance_county_fixed",
] + [
    f"DROP TRIGGER IF EXISTS {name}_{event}"
    for name in ("membership_one_alliance_per_day", "membership_one_lead_per_day", "membership_same_county")
    for event in ("insert", "update")
]


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = POSTGRES_FORWARD if vendor == "postgresql" else _sqlite_triggers() if vendor == "sqlite" else []
    for sql in statements:
        # params=() makes the driver treat "%" as a placeholder marker, hence the doubling.
        schema_editor.execute(sql.replace("%", "%%"), params=())


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = POSTGRES_BACKWARD if vendor == "postgresql" else SQLITE_BACKWARD if vendor == "sqlite" else []
    for sql in statements:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("alliances", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
