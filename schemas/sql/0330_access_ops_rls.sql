-- Row-level security on gemeente also for the ops tables that carry one (ops.alert,
-- ops.alert_delivery): 0300 left ops out because only the owner and the services read it, but a
-- monitor view over alert state, owned by jtm_owner, would otherwise show a municipality every
-- municipality's alerts. The services have scope * (jtm_alert is an analyst, jtm_linker BYPASSRLS).

CREATE OR REPLACE FUNCTION ops.secure_relation(p_rel oid) RETURNS void
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

    -- Row-level security on gemeente, in ops too: only the owner and the services (scope *) read
    -- ops, but an owner-rights view in monitor over, say, ops.alert must not show a municipality
    -- the alerts of another.
    v_has_gm := EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = p_rel AND attname = 'gemeente'
                        AND attnum > 0 AND NOT attisdropped);
    IF c.relkind IN ('r', 'p') AND v_has_gm THEN
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

SELECT ops.secure_all();
