-- Disclosure-safe aggregates for researchers (docs/access.md, Disclosure control).
-- Every research view is a two-way table per layer (rows x columns, e.g. gemeente x care level per
-- year) published together with its row totals, column totals and grand total, after
-- research.suppress(): primary suppression of counts 1..min_cell-1, then secondary suppression
-- until no line (a row or a column of the table, its total included) has exactly one suppressed
-- entry, so no suppressed count is the difference of published ones.

CREATE TABLE research.settings (
    name text PRIMARY KEY,
    value text NOT NULL,
    CHECK (name <> 'min_cell' OR value ~ '^[0-9]{1,6}$')
);
INSERT INTO research.settings (name, value) VALUES ('min_cell', '10');
COMMENT ON TABLE research.settings IS
    'Disclosure-control settings, owner-writable only: min_cell = smallest count published (default 10; values under 2 count as 2).';
COMMENT ON COLUMN research.settings.name IS 'Setting name (min_cell).';
COMMENT ON COLUMN research.settings.value IS 'Setting value, as text.';

-- A setting, not a GUC: a researcher could SET a GUC in his own session.
CREATE FUNCTION research.min_cell() RETURNS integer
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT greatest(2, coalesce((SELECT value::integer FROM research.settings WHERE name = 'min_cell'), 10));
END;
COMMENT ON FUNCTION research.min_cell() IS 'The suppression threshold: counts 1 .. min_cell-1 are never published.';

CREATE TYPE research.cell AS (layer text, r text, c text, n bigint);
COMMENT ON TYPE research.cell IS 'One inner cell of a two-way table: layer (e.g. year), row key, column key, count.';

-- For research.suppress: the index of an entry whose suppression removes the first bridge among
-- the suppressed entries (see there), or NULL when there is none (or no entry can fix it).
CREATE FUNCTION research.suppress_bridge_fix(p_layer text[], p_r text[], p_c text[], p_n bigint[],
                                             p_why text[], p_total text)
RETURNS integer
LANGUAGE plpgsql STABLE AS $$
DECLARE
    b record;
    v_pick integer;
BEGIN
    FOR b IN SELECT i FROM generate_subscripts(p_layer, 1) AS i WHERE p_why[i] IS NOT NULL ORDER BY i
    LOOP
        WITH RECURSIVE e AS (
            SELECT i, 'r:' || p_r[i] AS a, 'c:' || p_c[i] AS z
            FROM generate_subscripts(p_layer, 1) AS i
            WHERE p_why[i] IS NOT NULL AND p_layer[i] = p_layer[b.i] AND i <> b.i
        ), side_r(node) AS (
            SELECT 'r:' || p_r[b.i]
            UNION
            SELECT CASE WHEN e.a = s.node THEN e.z ELSE e.a END FROM side_r s JOIN e ON s.node IN (e.a, e.z)
        ), side_c(node) AS (
            SELECT 'c:' || p_c[b.i]
            UNION
            SELECT CASE WHEN e.a = s.node THEN e.z ELSE e.a END FROM side_c s JOIN e ON s.node IN (e.a, e.z)
        )
        SELECT i INTO v_pick
        FROM generate_subscripts(p_layer, 1) AS i
        WHERE NOT EXISTS (SELECT 1 FROM side_r WHERE node = 'c:' || p_c[b.i])  -- a bridge
          AND p_why[i] IS NULL AND p_n[i] > 0 AND p_layer[i] = p_layer[b.i]
          AND (('r:' || p_r[i] IN (SELECT node FROM side_c) AND 'c:' || p_c[i] IN (SELECT node FROM side_r))
            OR ('r:' || p_r[i] IN (SELECT node FROM side_r) AND 'c:' || p_c[i] IN (SELECT node FROM side_c)))
        ORDER BY (p_r[i] = p_total OR p_c[i] = p_total), p_n[i], p_r[i], p_c[i]
        LIMIT 1;
        IF v_pick IS NOT NULL THEN
            RETURN v_pick;
        END IF;
    END LOOP;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION research.suppress_bridge_fix(text[], text[], text[], bigint[], text[], text) IS
    'Helper of research.suppress: picks an entry that puts a suppressed bridge entry on a cycle of suppressed entries.';

-- Suppresses a set of two-way tables. p_cells holds the inner cells (one row per layer, r, c; no
-- totals, absent combinations are zeros). Returns the inner cells plus the totals (r or c =
-- p_total, both for the grand total) with n NULL where suppressed:
--  1. primary: an entry with 1 <= n < p_min is suppressed;
--  2. secondary: while some line (the entries of one layer with the same r, or with the same c,
--     totals included) has exactly one suppressed entry, also suppress one more non-zero entry of
--     that line: preferably one whose crossing line also has exactly one (that fixes both), then
--     an inner cell before the total, then the smallest count, then by key. Only adding, so it
--     ends; it leaves every line with 0 or at least 2 suppressed entries;
--  3. then, while a suppressed entry is a bridge of the graph (nodes: the lines; edges: the
--     suppressed entries), it could still be solved from the line equations: suppress the
--     smallest entry that closes a cycle through it, and go back to 2.
CREATE FUNCTION research.suppress(p_cells research.cell[], p_min integer, p_total text DEFAULT 'TOTAL')
RETURNS TABLE (layer text, r text, c text, n bigint, suppressed boolean, reason text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_layer text[];
    v_r text[];
    v_c text[];
    v_n bigint[];
    v_why text[];
    v_pick integer;
    v_round integer := 0;
BEGIN
    WITH inner_cells AS (
        SELECT x.layer, x.r, x.c, sum(x.n)::bigint AS n FROM unnest(p_cells) x
        WHERE x.n IS NOT NULL GROUP BY x.layer, x.r, x.c
    ), allc AS (
        SELECT i.layer, i.r, i.c, i.n FROM inner_cells i
        UNION ALL SELECT i.layer, i.r, p_total, sum(i.n)::bigint FROM inner_cells i GROUP BY i.layer, i.r
        UNION ALL SELECT i.layer, p_total, i.c, sum(i.n)::bigint FROM inner_cells i GROUP BY i.layer, i.c
        UNION ALL SELECT i.layer, p_total, p_total, sum(i.n)::bigint FROM inner_cells i GROUP BY i.layer
    )
    SELECT array_agg(a.layer ORDER BY a.layer, a.r, a.c), array_agg(a.r ORDER BY a.layer, a.r, a.c),
           array_agg(a.c ORDER BY a.layer, a.r, a.c), array_agg(a.n ORDER BY a.layer, a.r, a.c),
           array_agg(CASE WHEN a.n BETWEEN 1 AND p_min - 1 THEN 'primary' END ORDER BY a.layer, a.r, a.c)
      INTO v_layer, v_r, v_c, v_n, v_why
      FROM allc a;
    IF v_layer IS NULL THEN
        RETURN;
    END IF;
    LOOP
        v_round := v_round + 1;
        -- The first line with exactly one suppressed entry, and the entry to add in it.
        WITH e AS (
            SELECT i, v_layer[i] AS l, v_r[i] AS rr, v_c[i] AS cc, v_n[i] AS nn, v_why[i] IS NOT NULL AS s
            FROM generate_subscripts(v_layer, 1) AS i
        ), rs AS (
            SELECT l, rr, count(*) FILTER (WHERE s) AS k FROM e GROUP BY l, rr
        ), cs AS (
            SELECT l, cc, count(*) FILTER (WHERE s) AS k FROM e GROUP BY l, cc
        ), lines AS (
            SELECT l, rr, NULL::text AS cc FROM rs WHERE k = 1
            UNION ALL
            SELECT l, NULL, cc FROM cs WHERE k = 1
        )
        SELECT e.i INTO v_pick
        FROM lines ln
        JOIN e ON e.l = ln.l AND (e.rr = ln.rr OR e.cc = ln.cc)
        JOIN rs ON rs.l = e.l AND rs.rr = e.rr
        JOIN cs ON cs.l = e.l AND cs.cc = e.cc
        WHERE NOT e.s AND e.nn > 0
        ORDER BY ln.l, ln.rr NULLS LAST, ln.cc,
                 -- prefer an entry whose other line also has exactly one suppressed entry
                 (CASE WHEN ln.rr IS NOT NULL THEN cs.k ELSE rs.k END) = 1 DESC,
                 (e.rr = p_total OR e.cc = p_total), e.nn, e.rr, e.cc
        LIMIT 1;
        IF v_pick IS NULL THEN
            -- Lines are fine. A suppressed entry can still be solved from the line equations when
            -- it is a bridge of the graph whose nodes are the lines and whose edges are the
            -- suppressed entries (no cycle of unknowns runs through it). Join its two sides with
            -- one more entry: row side of the column end, column side of the row end.
            v_pick := research.suppress_bridge_fix(v_layer, v_r, v_c, v_n, v_why, p_total);
            EXIT WHEN v_pick IS NULL;
        END IF;
        v_why[v_pick] := 'secondary';
        IF v_round > cardinality(v_layer) + 1 THEN
            RAISE EXCEPTION 'research.suppress did not converge';
        END IF;
    END LOOP;
    RETURN QUERY
        SELECT v_layer[i], v_r[i], v_c[i], CASE WHEN v_why[i] IS NULL THEN v_n[i] END,
               v_why[i] IS NOT NULL, v_why[i]
        FROM generate_subscripts(v_layer, 1) AS i;
END $$;
COMMENT ON FUNCTION research.suppress(research.cell[], integer, text) IS
    'Primary (1 <= n < min) and secondary suppression of two-way tables with their totals; see docs/access.md. Suppressed entries have n NULL.';

-- Children whose care started in a year, by the municipality and care level of their first start
-- that year (so every child counts once per year and the totals add up).
CREATE VIEW research.children_in_care_year WITH (security_barrier = true) AS
SELECT s.layer::integer AS year, s.r AS gemeente, s.c AS care_level, s.n AS children, s.suppressed,
       s.reason AS suppression
FROM research.suppress(ARRAY(
    SELECT ROW(f.y::text, f.gemeente, f.level, count(*))::research.cell
    FROM (SELECT DISTINCT ON (e.pid, date_part('year', e.started_on))
                 date_part('year', e.started_on)::integer AS y, e.gemeente, wh.care_level(e.category) AS level
          FROM wh.care_episode e
          WHERE e.started_on IS NOT NULL AND e.gemeente IS NOT NULL
          ORDER BY e.pid, date_part('year', e.started_on), e.started_on, e.category) f
    GROUP BY f.y, f.gemeente, f.level), research.min_cell()) s;
COMMENT ON VIEW research.children_in_care_year IS
    'Children who started care in a year, by municipality and care level (AMB, GGZ, VERBLIJF, CRISIS, JB, JR, OVERIG) of their first start that year, with TOTAL rows and columns; counts under research.min_cell() and the cells needed to protect them are NULL (suppressed = true).';
COMMENT ON COLUMN research.children_in_care_year.year IS 'Calendar year of the start of care.';
COMMENT ON COLUMN research.children_in_care_year.gemeente IS 'CBS municipality code, or TOTAL.';
COMMENT ON COLUMN research.children_in_care_year.care_level IS 'Care level of the first start in the year, or TOTAL.';
COMMENT ON COLUMN research.children_in_care_year.children IS 'Number of children; NULL when suppressed.';
COMMENT ON COLUMN research.children_in_care_year.suppressed IS 'True when the count is withheld.';
COMMENT ON COLUMN research.children_in_care_year.suppression IS 'primary (count under the threshold) or secondary (withheld to protect another cell); NULL when published.';

-- Routes by municipality. Paths that fewer than min_cell children follow in the whole region are
-- merged into OTHER before suppression (rare categories are merged, not listed).
CREATE VIEW research.route_paths WITH (security_barrier = true) AS
SELECT s.r AS gemeente, s.c AS path, s.n AS children, s.suppressed, s.reason AS suppression
FROM research.suppress(ARRAY(
    SELECT ROW('', g.gemeente, g.path, g.n)::research.cell
    FROM (SELECT r.gemeente, CASE WHEN p.n >= research.min_cell() THEN r.path ELSE 'OTHER' END AS path,
                 count(*) AS n
          FROM wh.route r
          JOIN (SELECT path, count(*) AS n FROM wh.route WHERE coalesce(path, '') <> '' GROUP BY path) p
            ON p.path = r.path
          WHERE r.gemeente IS NOT NULL
          GROUP BY 1, 2) g), research.min_cell()) s;
COMMENT ON VIEW research.route_paths IS
    'Children by municipality and route path (design.md, wh.route), rare paths merged into OTHER, with TOTAL rows and columns; suppressed like research.children_in_care_year.';
COMMENT ON COLUMN research.route_paths.gemeente IS 'CBS municipality code, or TOTAL.';
COMMENT ON COLUMN research.route_paths.path IS 'Route path (e.g. JGZ>VERZUIM>AMB), OTHER for rare paths, or TOTAL.';
COMMENT ON COLUMN research.route_paths.children IS 'Number of children; NULL when suppressed.';
COMMENT ON COLUMN research.route_paths.suppressed IS 'True when the count is withheld.';
COMMENT ON COLUMN research.route_paths.suppression IS 'primary or secondary; NULL when published.';

-- Waiting time of started care (request, or allocation without request, to start) in bands of
-- the norms in use: up to 4 weeks, 4-8, 8-13, over 13 weeks.
CREATE VIEW research.waiting_time_year WITH (security_barrier = true) AS
SELECT s.layer::integer AS year, s.r AS gemeente, s.c AS wait_band, s.n AS episodes, s.suppressed,
       s.reason AS suppression
FROM research.suppress(ARRAY(
    SELECT ROW(g.y, g.gemeente, g.band, g.n)::research.cell
    FROM (SELECT date_part('year', e.started_on)::text AS y, e.gemeente,
                 CASE WHEN w.d <= 28 THEN '0-4w' WHEN w.d <= 56 THEN '4-8w' WHEN w.d <= 91 THEN '8-13w' ELSE '13w+' END AS band,
                 count(*) AS n
          FROM wh.care_episode e
          CROSS JOIN LATERAL (SELECT e.started_on - coalesce(e.requested_on, e.allocated_on) AS d) w
          WHERE e.started_on IS NOT NULL AND e.gemeente IS NOT NULL AND w.d >= 0
          GROUP BY 1, 2, 3) g), research.min_cell()) s;
COMMENT ON VIEW research.waiting_time_year IS
    'Started care episodes by year of start, municipality and waiting band (request or allocation to start: 0-4w, 4-8w, 8-13w, 13w+), with TOTAL rows and columns; suppressed like research.children_in_care_year.';
COMMENT ON COLUMN research.waiting_time_year.year IS 'Calendar year of the start of care.';
COMMENT ON COLUMN research.waiting_time_year.gemeente IS 'CBS municipality code, or TOTAL.';
COMMENT ON COLUMN research.waiting_time_year.wait_band IS 'Waiting band (0-4w: up to 28 days, 4-8w: 29-56, 8-13w: 57-91, 13w+: more), or TOTAL.';
COMMENT ON COLUMN research.waiting_time_year.episodes IS 'Number of episodes; NULL when suppressed.';
COMMENT ON COLUMN research.waiting_time_year.suppressed IS 'True when the count is withheld.';
COMMENT ON COLUMN research.waiting_time_year.suppression IS 'primary or secondary; NULL when published.';

SELECT ops.secure_all();
