-- Municipal isolation that holds against a hostile analyst (docs/access.md, Municipal isolation).
--
-- Row-level security alone cannot keep one municipality's rows from another's login: PostgreSQL
-- evaluates leakproof operators (texteq, date_le, ...) of the caller's query in index conditions
-- and filters before the policy's qual, and EXPLAIN (ANALYZE) reports what they removed, so
-- "Rows Removed by Filter", "(never executed)" and exact estimates answer yes/no questions about
-- every row of every municipality. The only closure is never scanning another municipality's rows:
--
-- * wh.care_episode, wh.episode_waiting, wh.route and wh.population_fact become LIST-partitioned by
--   gemeente. A municipality that is set up (ops.municipality_setup, run by ops/jtm-login.sh) has
--   its partitions in its own schema (gm0505.care_episode, ...) and security_invoker views there
--   over them (gm0505.waiting_list_weekly, ... one per monitor view with a gemeente column, and
--   gm0505.population_month). Rows of a code that is not set up, and rows without a code, land in
--   the default partitions wh.<table>_unassigned, which only the region roles read (through the
--   parents); jtm-linker logs and counts them.
-- * Municipalities lose every grant on wh and monitor; they get USAGE on their own schema and
--   SELECT on what is in it, nothing else. The region roles read the parents as before.
-- * Alert history: gm0505.alert_history over ops.alert_history(), an owner-rights function the
--   caller's query cannot push predicates into, filtered to the caller's municipality.
--
-- Also (the same issue): least privilege for the services (jtm_alert only its alert tables,
-- jtm_linker only its own ops tables), service advisory locks that only the services can take,
-- the functions that the DDL event trigger runs as a superuser owned by the superuser (jtm_owner
-- could replace them before), and the statistics functions that told every login the row counts
-- and change rates of every table.

-- Municipalities that are set up (their partitions and schema exist). Written by
-- ops.municipality_setup; the linker reads it to tell which rows land in the default partitions.
CREATE TABLE ops.municipality (
    code text PRIMARY KEY CHECK (code ~ '^GM[0-9]{4}$'),
    set_up_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ops.municipality IS
    'Municipalities with their own partitions and schema (gmNNNN), made by ops.municipality_setup; rows of other codes land in the default partitions wh.<table>_unassigned, read only by region roles.';
COMMENT ON COLUMN ops.municipality.code IS 'CBS municipality code, GM + 4 digits.';
COMMENT ON COLUMN ops.municipality.set_up_at IS 'When ops.municipality_setup first made its partitions.';

-- The functions the DDL event trigger and the setup run with a superuser's rights. Owned by
-- jtm_owner (0300), whoever acted as jtm_owner could replace one and be superuser at the next
-- migration. They stay with the migrating superuser, pinned to pg_catalog, and nobody else may
-- run them.
CREATE FUNCTION ops.admin_routines() RETURNS text[]
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$ SELECT ARRAY['secure_relation', 'secure_routine', 'secure_all', 'secure_ddl', 'secure_gemeente_policy',
                   'secure_municipality', 'municipality_views', 'municipality_setup', 'admin_routines'] $$;
COMMENT ON FUNCTION ops.admin_routines() IS
    'Names of the ops functions that run with a superuser''s rights (event trigger, setup): owned by the superuser, never by jtm_owner, not executable by others.';

-- The four fact tables become partitioned. Views that read them (monitor, research,
-- wh.population_month) are saved, dropped, and made again from their definitions, with their
-- options and comments; ops.secure_all at the end gives everything its owner and grants again.
DO $$
DECLARE
    v record;
    t text;
    cols text;
    tcomment text;
    saved jsonb := '[]'::jsonb;
    item jsonb;
    c record;
    old_path text := current_setting('search_path');
BEGIN
    PERFORM set_config('search_path', 'pg_catalog', true); -- definitions with qualified names
    FOR v IN
        WITH RECURSIVE dep(oid, depth) AS (
            SELECT DISTINCT r.ev_class, 1
              FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
             WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
               AND d.refobjid IN ('wh.care_episode'::regclass, 'wh.episode_waiting'::regclass,
                                  'wh.route'::regclass, 'wh.population_fact'::regclass)
               AND r.ev_class NOT IN ('wh.care_episode'::regclass, 'wh.episode_waiting'::regclass,
                                      'wh.route'::regclass, 'wh.population_fact'::regclass)
            UNION ALL
            SELECT DISTINCT r.ev_class, dep.depth + 1
              FROM dep JOIN pg_depend d ON d.refobjid = dep.oid AND d.refclassid = 'pg_class'::regclass
                       AND d.classid = 'pg_rewrite'::regclass
                       JOIN pg_rewrite r ON r.oid = d.objid AND r.ev_class <> dep.oid
        )
        SELECT cl.oid, n.nspname, cl.relname, cl.relkind, cl.reloptions, max(dep.depth) AS depth
          FROM dep JOIN pg_class cl ON cl.oid = dep.oid JOIN pg_namespace n ON n.oid = cl.relnamespace
         GROUP BY 1, 2, 3, 4, 5
         ORDER BY max(dep.depth) DESC
    LOOP
        IF v.relkind <> 'v' THEN
            RAISE EXCEPTION 'cannot carry % (relkind %) over to the partitioned tables', v.relname, v.relkind;
        END IF;
        saved := saved || jsonb_build_object(
            'schema', v.nspname, 'name', v.relname, 'depth', v.depth,
            'options', coalesce(array_to_string(v.reloptions, ', '), ''),
            'definition', pg_get_viewdef(v.oid),
            'comment', obj_description(v.oid, 'pg_class'),
            'columns', (SELECT coalesce(jsonb_object_agg(a.attname, col_description(v.oid, a.attnum)), '{}')
                          FROM pg_attribute a WHERE a.attrelid = v.oid AND a.attnum > 0
                           AND col_description(v.oid, a.attnum) IS NOT NULL));
        EXECUTE format('DROP VIEW %I.%I', v.nspname, v.relname);
    END LOOP;

    FOREACH t IN ARRAY ARRAY['care_episode', 'episode_waiting', 'route', 'population_fact'] LOOP
        tcomment := obj_description(format('wh.%I', t)::regclass, 'pg_class');
        SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
          FROM pg_attribute WHERE attrelid = format('wh.%I', t)::regclass AND attnum > 0
           AND NOT attisdropped AND attgenerated = '';
        EXECUTE format('ALTER TABLE wh.%I RENAME TO %I', t, t || '_old');
        EXECUTE format('CREATE TABLE wh.%I (LIKE wh.%I INCLUDING DEFAULTS INCLUDING GENERATED '
                       'INCLUDING CONSTRAINTS INCLUDING COMMENTS INCLUDING STATISTICS) PARTITION BY LIST (gemeente)',
                       t, t || '_old');
        EXECUTE format('COMMENT ON TABLE wh.%I IS %L', t,
                       tcomment || ' Partitioned by gemeente: a municipality''s rows in gmNNNN.' || t
                       || ' once it is set up (ops.municipality_setup), others in wh.' || t || '_unassigned.');
        EXECUTE format('CREATE TABLE wh.%I PARTITION OF wh.%I DEFAULT', t || '_unassigned', t);
        EXECUTE format('COMMENT ON TABLE wh.%I IS %L', t || '_unassigned',
                       'Default partition of wh.' || t || ': rows of municipalities that are not set up, and rows without gemeente. Read only by region roles, through the parent.');
        EXECUTE format('INSERT INTO wh.%I (%s) SELECT %s FROM wh.%I', t, cols, cols, t || '_old');
        EXECUTE format('DROP TABLE wh.%I', t || '_old');
    END LOOP;
    CREATE INDEX care_episode_pid_idx ON wh.care_episode (pid);
    CREATE INDEX care_episode_gemeente_idx ON wh.care_episode (gemeente, category);
    -- wh.route's primary key on pid cannot stay: a unique index of a partitioned table must hold the
    -- partition column, and gemeente may be NULL. The linker writes one row per child.
    CREATE INDEX route_pid_idx ON wh.route (pid);
    CREATE INDEX route_gemeente_idx ON wh.route (gemeente);
    CREATE INDEX episode_waiting_pid_idx ON wh.episode_waiting (pid);
    CREATE INDEX population_fact_pid_idx ON wh.population_fact (pid);

    FOR item IN SELECT value FROM jsonb_array_elements(saved) ORDER BY (value->>'depth')::int LOOP
        EXECUTE format('CREATE VIEW %I.%I %s AS %s', item->>'schema', item->>'name',
                       CASE WHEN item->>'options' <> '' THEN 'WITH (' || (item->>'options') || ')' ELSE '' END,
                       item->>'definition');
        IF item->>'comment' IS NOT NULL THEN
            EXECUTE format('COMMENT ON VIEW %I.%I IS %L', item->>'schema', item->>'name', item->>'comment');
        END IF;
        FOR c IN SELECT key, value FROM jsonb_each_text(item->'columns') LOOP
            EXECUTE format('COMMENT ON COLUMN %I.%I.%I IS %L', item->>'schema', item->>'name', c.key, c.value);
        END LOOP;
    END LOOP;
    PERFORM set_config('search_path', old_path, true);
END $$;

-- Grants of docs/access.md (Privileges). Differences from 0330: municipalities have nothing in
-- wh and monitor (they read their own schema); partitions are read and written through their
-- parents only; ops tables belong to one service each; sequences go to whoever may insert into
-- the table that owns them.
CREATE OR REPLACE FUNCTION ops.secure_relation(p_rel oid) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    c record;
    v_name text;
    v_has_gm boolean;
    v_table oid;
BEGIN
    SELECT cl.oid, cl.relname, cl.relkind, cl.relowner, cl.relrowsecurity, cl.relforcerowsecurity,
           cl.relispartition, n.nspname
      INTO c
      FROM pg_class cl JOIN pg_namespace n ON n.oid = cl.relnamespace
     WHERE cl.oid = p_rel;
    IF NOT FOUND OR c.relkind NOT IN ('r', 'p', 'v', 'm', 'f', 'S') THEN
        RETURN;
    END IF;
    IF c.nspname ~ '^gm[0-9]{4}$' THEN
        PERFORM ops.secure_municipality(upper(c.nspname));
        RETURN;
    END IF;
    IF c.nspname NOT IN ('staging', 'wh', 'monitor', 'research', 'ops') THEN
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

    v_has_gm := EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = p_rel AND attname = 'gemeente'
                        AND attnum > 0 AND NOT attisdropped);
    IF c.relkind IN ('r', 'p') AND v_has_gm THEN
        PERFORM ops.secure_gemeente_policy(p_rel);
    END IF;

    -- Nobody but the owner keeps a grant that this function does not give again.
    IF c.relkind = 'S' THEN
        EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM PUBLIC, jtm_linker, jtm_alert, jtm_analyst, jtm_municipality, '
                       'jtm_researcher, jtm_extractor', v_name);
        SELECT refobjid INTO v_table FROM pg_depend
         WHERE classid = 'pg_class'::regclass AND objid = p_rel AND refclassid = 'pg_class'::regclass
           AND deptype IN ('a', 'i') LIMIT 1;
        IF v_table IS NOT NULL AND has_table_privilege('jtm_linker', v_table, 'INSERT') THEN
            EXECUTE format('GRANT USAGE, SELECT, UPDATE ON SEQUENCE %s TO jtm_linker', v_name);
        END IF;
        IF v_table IS NOT NULL AND has_table_privilege('jtm_alert', v_table, 'INSERT') THEN
            EXECUTE format('GRANT USAGE, SELECT, UPDATE ON SEQUENCE %s TO jtm_alert', v_name);
        END IF;
        RETURN;
    END IF;
    EXECUTE format('REVOKE ALL ON %s FROM PUBLIC, jtm_linker, jtm_alert, jtm_analyst, jtm_municipality, '
                   'jtm_researcher, jtm_extractor', v_name);
    IF c.relispartition THEN
        RETURN; -- read and written through the parent only
    END IF;
    IF c.nspname = 'ops' THEN
        IF c.relname IN ('kafka_offset', 'linker_child', 'linker_dead_letter') THEN
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO jtm_linker', v_name);
        ELSIF c.relname IN ('alert', 'alert_delivery', 'alert_attempt', 'alert_silence') THEN
            EXECUTE format('GRANT SELECT, INSERT, UPDATE ON %s TO jtm_alert', v_name);
        ELSIF c.relname = 'municipality' THEN
            EXECUTE format('GRANT SELECT ON %s TO jtm_linker', v_name);
        END IF;
    ELSIF c.nspname = 'staging' THEN
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO jtm_linker', v_name);
    ELSIF c.nspname = 'wh' THEN
        IF c.relkind IN ('r', 'p') THEN
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO jtm_linker', v_name);
        END IF;
        EXECUTE format('GRANT SELECT ON %s TO jtm_analyst, jtm_extractor', v_name);
    ELSIF c.nspname = 'monitor' THEN
        EXECUTE format('GRANT SELECT ON %s TO jtm_analyst', v_name);
    ELSIF c.nspname = 'research' THEN
        EXECUTE format('GRANT SELECT ON %s TO jtm_researcher', v_name);
    END IF;
END $$;
COMMENT ON FUNCTION ops.secure_relation(oid) IS
    'Gives one relation in staging, wh, monitor, research, ops or a municipality schema its owner (jtm_owner), gemeente row-level security (FORCE) and exactly the grants of docs/access.md (Privileges). Idempotent.';

CREATE FUNCTION ops.secure_gemeente_policy(p_rel oid) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    c record;
BEGIN
    SELECT relrowsecurity, relforcerowsecurity, p_rel::regclass::text AS name INTO c FROM pg_class WHERE oid = p_rel;
    IF NOT c.relrowsecurity THEN
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', c.name);
    END IF;
    IF NOT c.relforcerowsecurity THEN
        EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', c.name);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = p_rel AND polname = 'jtm_gemeente_scope') THEN
        EXECUTE format('CREATE POLICY jtm_gemeente_scope ON %s AS PERMISSIVE FOR ALL TO PUBLIC '
                       'USING ((SELECT ops.row_scope()) IN (''*'', gemeente)) '
                       'WITH CHECK ((SELECT ops.row_scope()) IN (''*'', gemeente))', c.name);
    END IF;
END $$;
COMMENT ON FUNCTION ops.secure_gemeente_policy(oid) IS
    'ENABLE and FORCE row-level security and the policy jtm_gemeente_scope on one table with a gemeente column. Idempotent.';

-- What a municipality reads: its schema gmNNNN holds its partitions and views over them.
-- The views are the monitor views with a gemeente column (and wh.population_month) with every
-- wh and monitor relation they read replaced by the schema's own; security_invoker, so a view
-- that read anything else would fail for the municipality (42501) rather than show it.
CREATE FUNCTION ops.municipality_views(p_code text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET client_min_messages = warning AS $$
DECLARE
    s text := lower(p_code);
    v record;
    def text;
BEGIN
    FOR v IN SELECT relname FROM pg_class WHERE relnamespace = s::regnamespace AND relkind = 'v' LOOP
        EXECUTE format('DROP VIEW IF EXISTS %I.%I CASCADE', s, v.relname); -- may be gone with an earlier one
    END LOOP;
    FOR v IN
        SELECT cl.oid, n.nspname, cl.relname FROM pg_class cl JOIN pg_namespace n ON n.oid = cl.relnamespace
         WHERE cl.relkind = 'v'
           AND ((n.nspname = 'wh' AND cl.relname = 'population_month') OR n.nspname = 'monitor')
           AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = cl.oid AND a.attname = 'gemeente')
           -- only views over what the schema has its own copy of (a view over, say, ops.alert is not
           -- one of its views: made security_invoker here it would fail for the municipality anyway)
           AND NOT EXISTS (
               SELECT 1 FROM pg_rewrite rw JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid
                 JOIN pg_class dc ON dc.oid = d.refobjid AND d.refclassid = 'pg_class'::regclass
                 JOIN pg_namespace dn ON dn.oid = dc.relnamespace
                WHERE rw.ev_class = cl.oid AND dc.oid <> cl.oid
                  AND NOT (dn.nspname = 'monitor' OR (dn.nspname = 'wh' AND dc.relname IN
                           ('care_episode', 'episode_waiting', 'route', 'population_fact', 'population_month'))))
         ORDER BY n.nspname = 'monitor', cl.oid
    LOOP
        def := pg_get_viewdef(v.oid);
        def := regexp_replace(def, '\mwh\.(care_episode|episode_waiting|route|population_fact|population_month)\M',
                              s || '.\1', 'g');
        def := regexp_replace(def, '\mmonitor\.', s || '.', 'g');
        EXECUTE format('CREATE VIEW %I.%I WITH (security_invoker = true) AS %s', s, v.relname, def);
        EXECUTE format('COMMENT ON VIEW %I.%I IS %L', s, v.relname,
                       format('%s.%s of municipality %s only (over its own partitions).', v.nspname, v.relname, p_code));
    END LOOP;
    EXECUTE format('CREATE VIEW %I.alert_history AS SELECT * FROM ops.alert_history()', s);
    EXECUTE format('COMMENT ON VIEW %I.alert_history IS %L', s,
                   format('jtm-alert alarm episodes of municipality %s (ops.alert), firing and resolved.', p_code));
END $$;
COMMENT ON FUNCTION ops.municipality_views(text) IS
    'Makes (again) the views of a municipality schema gmNNNN from the current monitor views. A migration that changes a monitor view ends with SELECT ops.secure_all(), which calls this for every municipality.';

-- Owner, row-level security and grants of everything in one municipality schema: the
-- municipality's group role reads it, nobody else has a grant (region roles read the parents).
CREATE FUNCTION ops.secure_municipality(p_code text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s text := lower(p_code);
    g text := 'jtm_' || lower(p_code);
    o record;
BEGIN
    EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', s);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', s, g);
    FOR o IN SELECT cl.oid, cl.relkind, cl.relowner, format('%I.%I', s, cl.relname) AS name
               FROM pg_class cl WHERE cl.relnamespace = s::regnamespace AND cl.relkind IN ('r', 'p', 'v')
    LOOP
        IF o.relowner <> 'jtm_owner'::regrole THEN
            EXECUTE format('ALTER %s %s OWNER TO jtm_owner', CASE o.relkind WHEN 'v' THEN 'VIEW' ELSE 'TABLE' END, o.name);
        END IF;
        IF o.relkind <> 'v' THEN
            PERFORM ops.secure_gemeente_policy(o.oid);
        END IF;
        EXECUTE format('REVOKE ALL ON %s FROM PUBLIC, jtm_linker, jtm_alert, jtm_analyst, jtm_municipality, '
                       'jtm_researcher, jtm_extractor', o.name);
        EXECUTE format('GRANT SELECT ON %s TO %I', o.name, g);
    END LOOP;
END $$;
COMMENT ON FUNCTION ops.secure_municipality(text) IS
    'Owner jtm_owner, gemeente row-level security and SELECT for jtm_gmNNNN only on everything in the schema gmNNNN. Idempotent.';

-- Sets up one municipality: its group role (if missing), its schema, its partition of each fact
-- table (rows already in the default partition move into it, in this transaction) and its views.
-- Idempotent; run by ops/jtm-login.sh (as a superuser) for every municipality login.
CREATE FUNCTION ops.municipality_setup(p_code text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s text;
    g text;
    t text;
    cols text;
BEGIN
    IF p_code IS NULL OR p_code !~ '^GM[0-9]{4}$' THEN
        RAISE EXCEPTION 'municipality code must be GM and 4 digits' USING ERRCODE = '22023';
    END IF;
    s := lower(p_code);
    g := 'jtm_' || s;
    PERFORM set_config('jtm.securing', 'on', true);
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = g) THEN
        BEGIN
            EXECUTE format('CREATE ROLE %I NOLOGIN IN ROLE jtm_municipality', g);
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL; -- made meanwhile by the setup of another database
        END;
    END IF;
    EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I', s);
    EXECUTE format('COMMENT ON SCHEMA %I IS %L', s,
                   format('What municipality %s reads: its own partitions and views over them (docs/access.md).', p_code));
    FOREACH t IN ARRAY ARRAY['care_episode', 'episode_waiting', 'route', 'population_fact'] LOOP
        IF to_regclass(format('%I.%I', s, t)) IS NOT NULL THEN
            CONTINUE;
        END IF;
        SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
          FROM pg_attribute WHERE attrelid = format('wh.%I', t)::regclass AND attnum > 0
           AND NOT attisdropped AND attgenerated = '';
        EXECUTE format('LOCK TABLE wh.%I IN SHARE ROW EXCLUSIVE MODE', t);
        EXECUTE format('CREATE TABLE %I.%I (LIKE wh.%I INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING CONSTRAINTS)',
                       s, t, t);
        EXECUTE format('INSERT INTO %I.%I (%s) SELECT %s FROM wh.%I WHERE gemeente = %L', s, t, cols, cols,
                       t || '_unassigned', p_code);
        EXECUTE format('DELETE FROM wh.%I WHERE gemeente = %L', t || '_unassigned', p_code);
        EXECUTE format('ALTER TABLE wh.%I ATTACH PARTITION %I.%I FOR VALUES IN (%L)', t, s, t, p_code);
        EXECUTE format('COMMENT ON TABLE %I.%I IS %L', s, t,
                       format('Partition of wh.%s: the rows of municipality %s.', t, p_code));
    END LOOP;
    INSERT INTO ops.municipality (code) VALUES (p_code) ON CONFLICT (code) DO NOTHING;
    PERFORM ops.municipality_views(p_code);
    PERFORM ops.secure_municipality(p_code);
    PERFORM set_config('jtm.securing', 'off', true);
END $$;
COMMENT ON FUNCTION ops.municipality_setup(text) IS
    'Sets up a municipality (GMNNNN): group role jtm_gmnnnn, schema gmnnnn with its partition of every fact table (moving its rows out of the default partitions) and its views. Idempotent; superuser only.';

-- Alert history of the caller's municipality. An owner-rights function: a query on it cannot
-- push a predicate into its scan of ops.alert, EXPLAIN shows only the function's own output, and
-- the scan reads ops.alert by its (gemeente, ...) index only.
CREATE FUNCTION ops.alert_history()
RETURNS TABLE (gemeente text, category text, method text, week date, observed double precision,
               upper_bound double precision, status text, fired_at timestamptz, resolved_at timestamptz,
               resolved_week date)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp SET enable_seqscan = off SET enable_indexscan = on SET enable_bitmapscan = on
AS $$
    SELECT a.gemeente, a.category, a.method, a.week, a.observed, a.upper_bound, a.status, a.fired_at,
           a.resolved_at, a.resolved_week
      FROM ops.alert a
     WHERE a.gemeente = ops.row_scope()
     ORDER BY a.week, a.category, a.method
$$;
COMMENT ON FUNCTION ops.alert_history() IS
    'jtm-alert alarm episodes of the caller''s municipality (the scope of ops.row_scope; nothing for region roles, which read ops.alert if they may). Read through gmNNNN.alert_history.';

CREATE OR REPLACE FUNCTION ops.secure_routine(p_proc oid) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_sig text;
BEGIN
    SELECT p.oid::regprocedure::text INTO v_sig
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE p.oid = p_proc AND n.nspname IN ('staging', 'wh', 'monitor', 'research', 'ops')
       AND p.proowner <> 'jtm_owner'::regrole
       AND NOT (n.nspname = 'ops' AND p.proname = ANY (ops.admin_routines()))
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                       AND d.objid = p.oid AND d.deptype = 'e');
    IF v_sig IS NOT NULL THEN
        EXECUTE format('ALTER ROUTINE %s OWNER TO jtm_owner', v_sig);
    END IF;
END $$;

CREATE OR REPLACE FUNCTION ops.secure_all() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    o oid;
    m text;
BEGIN
    PERFORM set_config('jtm.securing', 'on', true);
    GRANT USAGE, CREATE ON SCHEMA staging, wh, monitor, research, ops TO jtm_owner;
    REVOKE ALL ON SCHEMA staging, wh, monitor, research, ops FROM PUBLIC;
    REVOKE ALL ON SCHEMA staging, wh, monitor, research, ops
        FROM jtm_linker, jtm_alert, jtm_analyst, jtm_municipality, jtm_researcher, jtm_extractor;
    GRANT USAGE ON SCHEMA staging TO jtm_linker;
    GRANT USAGE ON SCHEMA wh TO jtm_linker, jtm_analyst, jtm_extractor;
    GRANT USAGE ON SCHEMA monitor TO jtm_analyst;
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
    FOR m IN SELECT code FROM ops.municipality ORDER BY code LOOP
        PERFORM ops.municipality_views(m);
        PERFORM ops.secure_municipality(m);
    END LOOP;
    REVOKE ALL ON FUNCTION ops.alert_history() FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION ops.alert_history() TO jtm_municipality;
    PERFORM set_config('jtm.securing', 'off', true);
END $$;

CREATE OR REPLACE FUNCTION ops.secure_ddl() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    o record;
BEGIN
    IF current_setting('jtm.securing', true) = 'on'
       OR NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND rolsuper) THEN
        RETURN;
    END IF;
    PERFORM set_config('jtm.securing', 'on', true);
    FOR o IN SELECT DISTINCT classid, objid FROM pg_event_trigger_ddl_commands()
             WHERE schema_name IN ('staging', 'wh', 'monitor', 'research', 'ops') OR schema_name ~ '^gm[0-9]{4}$'
    LOOP
        IF o.classid = 'pg_class'::regclass THEN
            PERFORM ops.secure_relation(o.objid);
        ELSIF o.classid = 'pg_proc'::regclass THEN
            PERFORM ops.secure_routine(o.objid);
        END IF;
    END LOOP;
    PERFORM set_config('jtm.securing', 'off', true);
END $$;

DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ops.admin_routines() LOOP
        EXECUTE (SELECT string_agg(format('ALTER FUNCTION %s OWNER TO %I; REVOKE ALL ON FUNCTION %s FROM PUBLIC, jtm_owner',
                                          p.oid::regprocedure, current_user, p.oid::regprocedure), '; ')
                   FROM pg_proc p WHERE p.pronamespace = 'ops'::regnamespace AND p.proname = f);
    END LOOP;
END $$;

-- Service locks: advisory locks only for the services. jtm-alert's leader lock
-- (pg_try_advisory_lock(hashtext('jtm-alert'))) and jtm-migrate's (pg_advisory_lock(7365201), run
-- by a superuser) could be taken first by any login before, which stopped jtm-alert (standby for
-- ever) or jtm-migrate (waits for ever). Advisory locks are per database, and so are these grants.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
              WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname LIKE 'pg\_%advisory\_%'
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END $$;
GRANT EXECUTE ON FUNCTION pg_catalog.pg_try_advisory_lock(bigint) TO jtm_alert;

-- Statistics of every table (live, inserted, updated, deleted tuples, scans) were readable by
-- every login: per partition they are per-municipality counts and change rates. Readable now
-- by superusers and pg_read_all_stats only. (pg_class.reltuples/relpages cannot be hidden; see
-- docs/access.md.)
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
              WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname LIKE 'pg\_stat\_get\_%'
                AND p.proargtypes = '26'::oidvector AND p.proname !~ '(backend|subscription|replication|wal|archiver|bgwriter|checkpoint)'
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO pg_read_all_stats', f);
    END LOOP;
END $$;

SELECT ops.secure_all();
