-- Access (design.md, Access; docs/access.md): group roles, ownership, grants and row-level security
-- on gemeente. Run by the migrating superuser. Roles are cluster-wide and tests migrate many
-- databases of one cluster at once, so every role statement is guarded and tolerates a concurrent
-- twin; everything per database (ownership, grants, policies) is applied by ops.secure_*().
--
-- The rule that holds for tables, views, functions and COPY alike:
--  * every relation with a gemeente column in staging, wh and monitor has ROW LEVEL SECURITY with
--    FORCE and one policy for PUBLIC: a row is visible when ops.row_scope() is '*' or its gemeente;
--  * ops.row_scope() combines the scope of current_user AND session_user, so an owner-rights view
--    (current_user stays the caller) and a SECURITY DEFINER function (session_user stays the
--    caller) are both filtered for a municipality;
--  * the objects are owned by jtm_owner, a NOLOGIN role without BYPASSRLS: objects owned by a
--    superuser would bypass RLS in every view and SECURITY DEFINER function. An event trigger
--    gives objects that later migrations create the same treatment.

-- Group roles (NOLOGIN). Logins are members, made by ops/jtm-login.sh.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM (VALUES
        ('jtm_owner', 'NOLOGIN NOINHERIT NOBYPASSRLS'),
        ('jtm_linker', 'NOLOGIN BYPASSRLS'),
        ('jtm_analyst', 'NOLOGIN'),
        ('jtm_alert', 'NOLOGIN'),
        ('jtm_municipality', 'NOLOGIN'),
        ('jtm_researcher', 'NOLOGIN'),
        ('jtm_extractor', 'NOLOGIN')) AS v(name, attrs)
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r.name) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I %s', r.name, r.attrs);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL; -- created meanwhile by a migration of another database
            END;
        END IF;
    END LOOP;
    IF NOT pg_has_role('jtm_alert', 'jtm_analyst', 'MEMBER') THEN
        BEGIN
            GRANT jtm_analyst TO jtm_alert;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
END $$;

COMMENT ON ROLE jtm_owner IS 'jtm: owns the warehouse objects (no login, no BYPASSRLS, so row-level security holds in its views and functions).';
COMMENT ON ROLE jtm_linker IS 'jtm: jtm-linker writes staging, wh and its ops state.';
COMMENT ON ROLE jtm_analyst IS 'jtm: regional monitoring team, reads monitor and wh (pseudonymised rows), all municipalities.';
COMMENT ON ROLE jtm_alert IS 'jtm: jtm-alert, reads monitor (as analyst) and writes its ops alert state.';
COMMENT ON ROLE jtm_municipality IS 'jtm: municipalities; a login is also a member of exactly one jtm_gmNNNN role, which sets the gemeente it sees.';
COMMENT ON ROLE jtm_researcher IS 'jtm: researchers, read research (suppressed aggregates) only.';
COMMENT ON ROLE jtm_extractor IS 'jtm: jtm-extract, reads wh routes and episodes to make study extracts.';

-- The gemeente a role may see: '*' for all, a CBS code, or NULL for nothing.
--   superuser -> '*'; member of exactly one jtm_gmNNNN -> 'GMNNNN'; of several -> NULL;
--   member of jtm_owner, jtm_linker, jtm_analyst, jtm_researcher or jtm_extractor -> '*'.
-- (A researcher may see all rows only through the research views: it has no grant on wh.)
CREATE FUNCTION ops.role_scope(p_role name) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    WITH me AS (SELECT oid, rolsuper FROM pg_catalog.pg_roles WHERE rolname = p_role),
    gm AS (
        SELECT g.rolname FROM pg_catalog.pg_roles g, me
        WHERE g.rolname ~ '^jtm_gm[0-9]{4}$' AND pg_catalog.pg_has_role(me.oid, g.oid, 'MEMBER')
    )
    SELECT CASE
        WHEN (SELECT rolsuper FROM me) THEN '*'
        WHEN (SELECT count(*) FROM gm) = 1 THEN (SELECT 'GM' || substr(rolname, 7) FROM gm)
        WHEN (SELECT count(*) FROM gm) > 1 THEN NULL
        WHEN EXISTS (SELECT 1 FROM me, pg_catalog.pg_roles s
                     WHERE s.rolname IN ('jtm_owner', 'jtm_linker', 'jtm_analyst', 'jtm_researcher', 'jtm_extractor')
                       AND pg_catalog.pg_has_role(me.oid, s.oid, 'MEMBER')) THEN '*'
    END;
END;
COMMENT ON FUNCTION ops.role_scope(name) IS
    'Gemeente scope of a role: * (all), a CBS code (member of one jtm_gmNNNN role) or NULL (nothing).';

-- The scope of this statement: both current_user and session_user must allow a row, so neither a
-- SECURITY DEFINER function (current_user = its owner) nor SET ROLE from a wider login widens it.
-- Both are SQL-standard bodies (BEGIN ATOMIC): parsed once here, so callers need no USAGE on ops.
CREATE FUNCTION ops.row_scope() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT CASE WHEN a = '*' THEN b WHEN b = '*' THEN a WHEN a = b THEN a END
    FROM (SELECT ops.role_scope(current_user) AS a, ops.role_scope(session_user) AS b) s;
END;
COMMENT ON FUNCTION ops.row_scope() IS
    'Gemeente scope of the running statement: the narrower of the scopes of current_user and session_user (* = all, NULL = nothing). Used by every gemeente policy.';

-- Ownership, grants and row-level security of one relation, idempotent. Called for every relation
-- at migration time and by the event trigger for relations created later.
CREATE FUNCTION ops.secure_relation(p_rel oid) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    c record;
    v_name text;
    v_has_gm boolean;
    v_rls_ok boolean := false;
BEGIN
    SELECT cl.oid, cl.relname, cl.relkind, cl.relowner, cl.relrowsecurity, cl.relforcerowsecurity,
           n.nspname
      INTO c
      FROM pg_class cl JOIN pg_namespace n ON n.oid = cl.relnamespace
     WHERE cl.oid = p_rel;
    IF NOT FOUND OR c.nspname NOT IN ('staging', 'wh', 'monitor', 'research', 'ops')
       OR c.relkind NOT IN ('r', 'p', 'v', 'm', 'f', 'S') THEN
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_depend WHERE classid = 'pg_class'::regclass AND objid = p_rel AND deptype = 'e') THEN
        RETURN; -- belongs to an extension
    END IF;
    v_name := format('%I.%I', c.nspname, c.relname);

    -- Owner: jtm_owner. A sequence owned by a column follows its table.
    IF c.relowner <> 'jtm_owner'::regrole THEN
        IF c.relkind = 'S' THEN
            IF NOT EXISTS (SELECT 1 FROM pg_depend WHERE classid = 'pg_class'::regclass AND objid = p_rel
                           AND refclassid = 'pg_class'::regclass AND deptype IN ('a', 'i')) THEN
                EXECUTE format('ALTER SEQUENCE %s OWNER TO jtm_owner', v_name);
            END IF;
        ELSIF c.relkind = 'v' THEN
            EXECUTE format('ALTER VIEW %s OWNER TO jtm_owner', v_name);
        ELSIF c.relkind = 'm' THEN
            EXECUTE format('ALTER MATERIALIZED VIEW %s OWNER TO jtm_owner', v_name);
        ELSIF c.relkind = 'f' THEN
            EXECUTE format('ALTER FOREIGN TABLE %s OWNER TO jtm_owner', v_name);
        ELSE
            EXECUTE format('ALTER TABLE %s OWNER TO jtm_owner', v_name);
        END IF;
    END IF;

    -- Row-level security on gemeente (not in ops: nobody but the owner and the services reads it).
    v_has_gm := EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = p_rel AND attname = 'gemeente'
                        AND attnum > 0 AND NOT attisdropped);
    IF c.relkind IN ('r', 'p') AND v_has_gm AND c.nspname IN ('staging', 'wh', 'monitor') THEN
        IF NOT c.relrowsecurity THEN
            EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', v_name);
        END IF;
        IF NOT c.relforcerowsecurity THEN
            EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', v_name);
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = p_rel AND polname = 'jtm_gemeente_scope') THEN
            EXECUTE format('CREATE POLICY jtm_gemeente_scope ON %s AS PERMISSIVE FOR ALL TO PUBLIC '
                           'USING ((SELECT ops.row_scope()) IN (''*'', gemeente)) '
                           'WITH CHECK ((SELECT ops.row_scope()) IN (''*'', gemeente))', v_name);
        END IF;
        v_rls_ok := true;
    END IF;

    -- Grants, by schema. Sequences: usage for the writers.
    IF c.relkind = 'S' THEN
        IF c.nspname IN ('staging', 'wh', 'ops') THEN
            EXECUTE format('GRANT USAGE, SELECT, UPDATE ON SEQUENCE %s TO jtm_linker, jtm_alert', v_name);
        END IF;
        RETURN;
    END IF;
    IF c.nspname = 'ops' THEN
        IF c.relname = 'schema_migrations' THEN
            EXECUTE format('REVOKE ALL ON %s FROM jtm_linker, jtm_alert', v_name);
        ELSE
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO jtm_linker, jtm_alert', v_name);
        END IF;
    ELSIF c.nspname = 'staging' THEN
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO jtm_linker', v_name);
    ELSIF c.nspname IN ('wh', 'monitor') THEN
        IF c.nspname = 'wh' AND c.relkind IN ('r', 'p') THEN
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO jtm_linker', v_name);
        END IF;
        EXECUTE format('GRANT SELECT ON %s TO jtm_analyst', v_name);
        IF c.nspname = 'wh' THEN
            EXECUTE format('GRANT SELECT ON %s TO jtm_extractor', v_name);
        END IF;
        -- Municipalities: views (their base tables are filtered) and tables under the policy;
        -- never a materialized view (no RLS possible) or a table without gemeente.
        IF c.relkind = 'v' OR v_rls_ok THEN
            EXECUTE format('GRANT SELECT ON %s TO jtm_municipality', v_name);
        ELSE
            EXECUTE format('REVOKE ALL ON %s FROM jtm_municipality', v_name);
        END IF;
    ELSIF c.nspname = 'research' THEN
        EXECUTE format('GRANT SELECT ON %s TO jtm_researcher', v_name);
    END IF;
END $$;
COMMENT ON FUNCTION ops.secure_relation(oid) IS
    'Gives one relation in staging, wh, monitor, research or ops its owner (jtm_owner), gemeente row-level security (FORCE) and the grants of docs/access.md. Idempotent.';

-- Functions and procedures change owner too: a SECURITY DEFINER function of a superuser would
-- bypass row-level security.
CREATE FUNCTION ops.secure_routine(p_proc oid) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_sig text;
BEGIN
    SELECT p.oid::regprocedure::text INTO v_sig
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE p.oid = p_proc AND n.nspname IN ('staging', 'wh', 'monitor', 'research', 'ops')
       AND p.proowner <> 'jtm_owner'::regrole
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                       AND d.objid = p.oid AND d.deptype = 'e');
    IF v_sig IS NOT NULL THEN
        EXECUTE format('ALTER ROUTINE %s OWNER TO jtm_owner', v_sig);
    END IF;
END $$;
COMMENT ON FUNCTION ops.secure_routine(oid) IS
    'Makes jtm_owner the owner of one function or procedure in the warehouse schemas. Idempotent.';

-- Schema privileges and every existing object.
CREATE FUNCTION ops.secure_all() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    o oid;
BEGIN
    PERFORM set_config('jtm.securing', 'on', true);
    GRANT USAGE, CREATE ON SCHEMA staging, wh, monitor, research, ops TO jtm_owner;
    REVOKE ALL ON SCHEMA staging, wh, monitor, research, ops FROM PUBLIC;
    GRANT USAGE ON SCHEMA staging TO jtm_linker;
    GRANT USAGE ON SCHEMA wh TO jtm_linker, jtm_analyst, jtm_municipality, jtm_extractor;
    GRANT USAGE ON SCHEMA monitor TO jtm_analyst, jtm_municipality;
    GRANT USAGE ON SCHEMA research TO jtm_researcher;
    GRANT USAGE ON SCHEMA ops TO jtm_linker, jtm_alert;
    FOR o IN SELECT cl.oid FROM pg_class cl JOIN pg_namespace n ON n.oid = cl.relnamespace
             WHERE n.nspname IN ('staging', 'wh', 'monitor', 'research', 'ops')
             ORDER BY cl.relkind = 'S', cl.oid
    LOOP
        PERFORM ops.secure_relation(o);
    END LOOP;
    FOR o IN SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname IN ('staging', 'wh', 'monitor', 'research', 'ops') ORDER BY p.oid
    LOOP
        PERFORM ops.secure_routine(o);
    END LOOP;
    PERFORM set_config('jtm.securing', 'off', true);
END $$;
COMMENT ON FUNCTION ops.secure_all() IS
    'Applies ops.secure_relation and ops.secure_routine to every object of the warehouse schemas, and the schema grants. Idempotent; migrations of the access range call it last.';

-- Objects that later migrations create (as the superuser) get the same treatment at once.
CREATE FUNCTION ops.secure_ddl() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
    o record;
BEGIN
    IF current_setting('jtm.securing', true) = 'on'
       OR NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND rolsuper) THEN
        RETURN;
    END IF;
    PERFORM set_config('jtm.securing', 'on', true);
    FOR o IN SELECT DISTINCT classid, objid FROM pg_event_trigger_ddl_commands()
             WHERE schema_name IN ('staging', 'wh', 'monitor', 'research', 'ops')
    LOOP
        IF o.classid = 'pg_class'::regclass THEN
            PERFORM ops.secure_relation(o.objid);
        ELSIF o.classid = 'pg_proc'::regclass THEN
            PERFORM ops.secure_routine(o.objid);
        END IF;
    END LOOP;
    PERFORM set_config('jtm.securing', 'off', true);
END $$;
COMMENT ON FUNCTION ops.secure_ddl() IS
    'Event trigger: secures relations and routines created or altered in the warehouse schemas by a superuser (ops.secure_relation, ops.secure_routine).';

CREATE EVENT TRIGGER jtm_secure_ddl ON ddl_command_end EXECUTE FUNCTION ops.secure_ddl();

SELECT ops.secure_all();
