-- Suppression that cannot be narrowed (issue 21, docs/access.md, Disclosure control).
-- 0310's rule stopped exact recovery only. A researcher knows two more things: a suppressed count
-- is never 0 (zeros are published), and a count marked 'primary' is under min_cell. With those
-- and the line equations, intervals shrink: two suppressed cells in a line whose published total
-- leaves 2 are each exactly 1. This migration
--  * adds research.suppress_bounds: interval propagation over the line equations of a table set
--    (suppressed entries in [1, inf), published ones fixed) to a fixed point; the bounds it gives
--    are the ones a researcher gets by the same reasoning (a relaxation of linear programming:
--    never narrower than the true feasible range, possibly wider);
--  * redefines research.suppress with a step 4: while a suppressed entry's interval is narrower
--    than min_cell (ub - lb < min_cell), suppress one more non-zero entry of one of its lines
--    (preferably one whose other line already has a suppressed entry, then one of at least
--    min_cell, an inner cell, the smallest), and go back to step 2; step 3's bridge check then
--    looks only at entries added since it last found none (an added edge never makes a bridge);
--  * publishes every withheld entry as suppression = 'withheld': 'primary' would tell the
--    researcher the count is under min_cell, an upper bound the rule cannot hide.
-- The views keep reading the wh parent tables and their grants (ops.secure_all()).

-- Interval propagation. Each entry is in two lines (its row and its column of its layer); a line
-- says sum(inner entries) - total = 0. For an entry x_j with coefficient a_j in a line,
-- a_j x_j = -(sum of the others), so its bounds follow from the others' bounds; repeated until
-- nothing changes (or p_max_iter rounds). inf (10^12) stands for unbounded.
CREATE FUNCTION research.suppress_bounds(p_layer text[], p_r text[], p_c text[], p_n bigint[], p_why text[],
                                         p_total text, p_lo bigint[], p_hi bigint[], p_max_iter integer DEFAULT 200,
                                         OUT lb bigint[], OUT ub bigint[])
LANGUAGE plpgsql STABLE AS $$
DECLARE
    inf constant bigint := 1000000000000;
    v_lb bigint[];
    v_ub bigint[];
    v_iter integer := 0;
BEGIN
    SELECT array_agg(CASE WHEN p_why[i] IS NULL THEN p_n[i] ELSE greatest(1, p_lo[i]) END ORDER BY i),
           array_agg(CASE WHEN p_why[i] IS NULL THEN p_n[i] ELSE least(inf, coalesce(p_hi[i], inf)) END ORDER BY i)
      INTO lb, ub
      FROM generate_subscripts(p_layer, 1) AS i;
    IF lb IS NULL THEN
        RETURN;
    END IF;
    LOOP
        v_iter := v_iter + 1;
        WITH e AS (
            SELECT i, p_layer[i] AS l, p_r[i] AS rr, p_c[i] AS cc, lb[i] AS lo, ub[i] AS hi,
                   p_why[i] IS NOT NULL AS s,
                   p_c[i] = p_total AS r_tot,  -- the total of its row line
                   p_r[i] = p_total AS c_tot   -- the total of its column line
            FROM generate_subscripts(p_layer, 1) AS i
        ), t AS (
            -- the range of a_j * x_j in the row line (rl, rh) and the column line (cl, ch)
            SELECT e.*,
                   CASE WHEN r_tot THEN -hi ELSE lo END AS rl, CASE WHEN r_tot THEN -lo ELSE hi END AS rh,
                   CASE WHEN c_tot THEN -hi ELSE lo END AS cl, CASE WHEN c_tot THEN -lo ELSE hi END AS ch
            FROM e
        ), s AS (
            SELECT t.*,
                   sum(rl) OVER (PARTITION BY l, rr) AS srl, sum(rh) OVER (PARTITION BY l, rr) AS srh,
                   sum(cl) OVER (PARTITION BY l, cc) AS scl, sum(ch) OVER (PARTITION BY l, cc) AS sch
            FROM t
        ), b AS (
            -- a_j x_j lies in [-(sum of the others' highs), -(sum of the others' lows)]
            SELECT i, s, lo, hi, r_tot, c_tot,
                   -(srh - rh) AS r_lo, -(srl - rl) AS r_hi, -(sch - ch) AS c_lo, -(scl - cl) AS c_hi
            FROM s
        ), n AS (
            SELECT i, s, lo, hi,
                   greatest(lo, CASE WHEN r_tot THEN -r_hi ELSE r_lo END, CASE WHEN c_tot THEN -c_hi ELSE c_lo END) AS nlo,
                   least(hi, CASE WHEN r_tot THEN -r_lo ELSE r_hi END, CASE WHEN c_tot THEN -c_lo ELSE c_hi END) AS nhi
            FROM b
        )
        SELECT array_agg(CASE WHEN s THEN nlo ELSE lo END ORDER BY i),
               array_agg(CASE WHEN NOT s THEN hi WHEN nhi >= inf / 2 THEN inf ELSE nhi END ORDER BY i)
          INTO v_lb, v_ub
          FROM n;
        EXIT WHEN v_lb = lb AND v_ub = ub;
        lb := v_lb;
        ub := v_ub;
        EXIT WHEN v_iter >= p_max_iter;
    END LOOP;
END $$;
COMMENT ON FUNCTION research.suppress_bounds(text[], text[], text[], bigint[], text[], text, bigint[], bigint[], integer) IS
    'Helper of research.suppress: bounds of every entry given the published ones, suppressed entries >= 1 (or p_lo), <= p_hi, and the line equations (interval propagation to a fixed point; 10^12 = unbounded).';

-- 0310's bridge check, limited to the entries p_only (NULL: all). Adding a suppressed entry (an
-- edge) never turns another edge into a bridge, it can only end bridges; so once no entry is a
-- bridge, only the entries added since can be one, and research.suppress checks just those.
CREATE FUNCTION research.suppress_bridge_fix(p_layer text[], p_r text[], p_c text[], p_n bigint[],
                                             p_why text[], p_total text, p_only integer[])
RETURNS integer
LANGUAGE plpgsql STABLE AS $$
DECLARE
    b record;
    v_pick integer;
BEGIN
    FOR b IN SELECT i FROM generate_subscripts(p_layer, 1) AS i
             WHERE p_why[i] IS NOT NULL AND (p_only IS NULL OR i = ANY (p_only)) ORDER BY i
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
COMMENT ON FUNCTION research.suppress_bridge_fix(text[], text[], text[], bigint[], text[], text, integer[]) IS
    'Helper of research.suppress: picks an entry that puts a suppressed bridge entry (among p_only, NULL: all) on a cycle of suppressed entries.';

-- For step 4 of research.suppress: the entry to suppress (as a one-element array) so that the
-- narrowest withheld entry whose interval is under p_min gets a wider one, or NULL when none is
-- narrow (or none can be widened any more: every entry of its lines is suppressed or zero). One at
-- a time: fixing all narrow entries at once withheld 14% more of route_paths on the demo region.
CREATE FUNCTION research.suppress_interval_fix(p_layer text[], p_r text[], p_c text[], p_n bigint[],
                                               p_why text[], p_total text, p_min integer, p_lo bigint[], p_hi bigint[])
RETURNS integer[]
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_b record;
    v_picks integer[];
BEGIN
    SELECT * INTO v_b FROM research.suppress_bounds(p_layer, p_r, p_c, p_n, p_why, p_total, p_lo, p_hi);
    WITH e AS (
        SELECT i, p_layer[i] AS l, p_r[i] AS rr, p_c[i] AS cc, p_n[i] AS nn, p_why[i] IS NOT NULL AS s,
               v_b.ub[i] - v_b.lb[i] AS width
        FROM generate_subscripts(p_layer, 1) AS i
    ), rs AS (
        SELECT l, rr, count(*) FILTER (WHERE s) AS k FROM e GROUP BY l, rr
    ), cs AS (
        SELECT l, cc, count(*) FILTER (WHERE s) AS k FROM e GROUP BY l, cc
    ), cand AS (
        -- per narrow entry one entry of its lines: preferably one whose other line already has a
        -- suppressed entry (adding it leaves no line with a single one, which step 2 would mend
        -- with yet another), then one of at least p_min, an inner cell, the smallest
        SELECT DISTINCT ON (nw.i) e.i AS j, nw.i AS ni, nw.width
        FROM e nw
        JOIN e ON e.l = nw.l AND NOT e.s AND e.nn > 0 AND (e.rr = nw.rr OR e.cc = nw.cc)
        JOIN rs ON rs.l = e.l AND rs.rr = e.rr
        JOIN cs ON cs.l = e.l AND cs.cc = e.cc
        WHERE nw.s AND nw.width < p_min
        ORDER BY nw.i, (CASE WHEN e.rr = nw.rr THEN cs.k ELSE rs.k END) = 0, e.nn < p_min,
                 (e.rr = p_total OR e.cc = p_total), e.nn, e.rr, e.cc
    )
    SELECT ARRAY[j] INTO v_picks FROM cand ORDER BY width, ni LIMIT 1;
    RETURN v_picks;
END $$;
COMMENT ON FUNCTION research.suppress_interval_fix(text[], text[], text[], bigint[], text[], text, integer, bigint[], bigint[]) IS
    'Helper of research.suppress: an entry of the lines of the narrowest suppressed entry whose interval is under p_min, whose suppression widens it.';

-- research.suppress as in 0310, plus step 4 (interval protection) and 'withheld' as the only
-- published reason. p_lo and p_hi: what a reader knows from other publications about entries of
-- this table (layer, r, c, n: the entry is at least / at most n), e.g. children starting care are
-- no more than the episodes started that waiting_time_year counts. Passing the true values there
-- assumes the reader knows them exactly: the safe side. p_force: entries (layer, r, c) withheld
-- from the start, because publishing them would narrow a count withheld elsewhere.
CREATE FUNCTION research.suppress(p_cells research.cell[], p_min integer, p_total text,
                                  p_lo research.cell[], p_hi research.cell[], p_force research.cell[])
RETURNS TABLE (layer text, r text, c text, n bigint, suppressed boolean, reason text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_lo bigint[];
    v_hi bigint[];
    v_layer text[];
    v_r text[];
    v_c text[];
    v_n bigint[];
    v_why text[];
    v_pick integer;
    v_picks integer[];
    v_new integer[];  -- entries added since the last bridge check found none (NULL: check all)
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
           array_agg(CASE WHEN a.n BETWEEN 1 AND p_min - 1 THEN 'primary'
                          WHEN a.n > 0 AND EXISTS (SELECT 1 FROM unnest(p_force) f WHERE (f.layer, f.r, f.c) = (a.layer, a.r, a.c))
                          THEN 'secondary' END ORDER BY a.layer, a.r, a.c)
      INTO v_layer, v_r, v_c, v_n, v_why
      FROM allc a;
    IF v_layer IS NULL THEN
        RETURN;
    END IF;
    SELECT array_agg((SELECT max(x.n) FROM unnest(p_lo) x WHERE (x.layer, x.r, x.c) = (v_layer[i], v_r[i], v_c[i])) ORDER BY i),
           array_agg((SELECT min(x.n) FROM unnest(p_hi) x WHERE (x.layer, x.r, x.c) = (v_layer[i], v_r[i], v_c[i])) ORDER BY i)
      INTO v_lo, v_hi
      FROM generate_subscripts(v_layer, 1) AS i;
    LOOP
        v_round := v_round + 1;
        -- 2. The first line with exactly one suppressed entry, and the entry to add in it.
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
                 (CASE WHEN ln.rr IS NOT NULL THEN cs.k ELSE rs.k END) = 1 DESC,
                 (e.rr = p_total OR e.cc = p_total), e.nn, e.rr, e.cc
        LIMIT 1;
        IF v_pick IS NULL THEN
            -- 3. A suppressed entry that is a bridge can be solved exactly.
            v_pick := research.suppress_bridge_fix(v_layer, v_r, v_c, v_n, v_why, p_total, v_new);
            IF v_pick IS NULL THEN
                v_new := '{}';
            END IF;
        END IF;
        IF v_pick IS NULL THEN
            -- 4. Suppressed entries whose intervals are narrower than p_min.
            v_picks := research.suppress_interval_fix(v_layer, v_r, v_c, v_n, v_why, p_total, p_min, v_lo, v_hi);
            EXIT WHEN v_picks IS NULL;
            FOREACH v_pick IN ARRAY v_picks LOOP
                v_why[v_pick] := 'secondary';
            END LOOP;
            v_new := CASE WHEN v_new IS NOT NULL THEN v_new || v_picks END;
            CONTINUE;
        END IF;
        v_why[v_pick] := 'secondary';
        v_new := CASE WHEN v_new IS NOT NULL THEN v_new || v_pick END;
        IF v_round > cardinality(v_layer) + 1 THEN
            RAISE EXCEPTION 'research.suppress did not converge';
        END IF;
    END LOOP;
    RETURN QUERY
        SELECT v_layer[i], v_r[i], v_c[i], CASE WHEN v_why[i] IS NULL THEN v_n[i] END,
               v_why[i] IS NOT NULL, CASE WHEN v_why[i] IS NOT NULL THEN 'withheld' END
        FROM generate_subscripts(v_layer, 1) AS i;
END $$;
COMMENT ON FUNCTION research.suppress(research.cell[], integer, text, research.cell[], research.cell[], research.cell[]) IS
    'Primary (1 <= n < min), secondary (no line with one unknown, no bridge) and interval suppression (every suppressed entry keeps a feasible range of at least min, given that suppressed counts are >= 1) of two-way tables with their totals; see docs/access.md. Suppressed entries have n NULL and reason withheld; p_lo / p_hi are bounds known from elsewhere, p_force entries withheld from the start.';

-- The 0310 signature, for callers without outside bounds.
CREATE OR REPLACE FUNCTION research.suppress(p_cells research.cell[], p_min integer, p_total text DEFAULT 'TOTAL')
RETURNS TABLE (layer text, r text, c text, n bigint, suppressed boolean, reason text)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT * FROM research.suppress(p_cells, p_min, p_total, NULL::research.cell[], NULL::research.cell[],
                                    NULL::research.cell[]);
END;
COMMENT ON FUNCTION research.suppress(research.cell[], integer, text) IS
    'research.suppress without bounds from other publications; see the six-argument form.';

-- waiting_time_year and children_in_care_year are related: the children who started care in a
-- year and municipality are no more than the episodes started there and then (each child's first
-- start is one of them, and waiting_time_year counts it when it waited 0 days or more). So:
--  * a withheld episodes total is at least the children total: passed as a lower bound (the true
--    children count, the safe side whether or not it is published);
--  * a published episodes total E bounds a withheld children total c from above: when E - c is
--    under min_cell it would narrow c, so that episodes total is withheld too.
-- children_in_care_year stays as it was (the query of 0310); only waiting_time_year looks at it.
CREATE OR REPLACE VIEW research.waiting_time_year WITH (security_barrier = true) AS
WITH ep AS (
    SELECT date_part('year', e.started_on)::text AS y, e.gemeente,
           CASE WHEN w.d <= 28 THEN '0-4w' WHEN w.d <= 56 THEN '4-8w' WHEN w.d <= 91 THEN '8-13w' ELSE '13w+' END AS band,
           count(*) AS n
    FROM wh.care_episode e
    CROSS JOIN LATERAL (SELECT e.started_on - coalesce(e.requested_on, e.allocated_on) AS d) w
    WHERE e.started_on IS NOT NULL AND e.gemeente IS NOT NULL AND w.d >= 0
    GROUP BY 1, 2, 3
), ep_tot AS (
    SELECT y, gemeente, sum(n) AS n FROM ep GROUP BY 1, 2
    UNION ALL SELECT y, 'TOTAL', sum(n) FROM ep GROUP BY 1
), ch AS (
    SELECT f.y::text AS y, f.gemeente, count(*) AS n
    FROM (SELECT DISTINCT ON (e.pid, date_part('year', e.started_on))
                 date_part('year', e.started_on)::integer AS y, e.gemeente
          FROM wh.care_episode e
          WHERE e.started_on IS NOT NULL AND e.gemeente IS NOT NULL
          ORDER BY e.pid, date_part('year', e.started_on), e.started_on, e.category) f
    GROUP BY 1, 2
), ch_tot AS (
    SELECT y, gemeente, n FROM ch
    UNION ALL SELECT y, 'TOTAL', sum(n) FROM ch GROUP BY 1
)
SELECT s.layer::integer AS year, s.r AS gemeente, s.c AS wait_band, s.n AS episodes, s.suppressed,
       s.reason AS suppression
FROM research.suppress(
    ARRAY(SELECT ROW(ep.y, ep.gemeente, ep.band, ep.n)::research.cell FROM ep),
    research.min_cell(), 'TOTAL',
    ARRAY(SELECT ROW(ch_tot.y, ch_tot.gemeente, 'TOTAL', ch_tot.n)::research.cell FROM ch_tot),
    NULL,
    ARRAY(SELECT ROW(ch_tot.y, ch_tot.gemeente, 'TOTAL', NULL)::research.cell
          FROM ch_tot
          JOIN ep_tot ON (ep_tot.y, ep_tot.gemeente) = (ch_tot.y, ch_tot.gemeente)
          JOIN research.children_in_care_year c
            ON (c.year::text, c.gemeente, c.care_level) = (ch_tot.y, ch_tot.gemeente, 'TOTAL') AND c.suppressed
          WHERE ep_tot.n - ch_tot.n < research.min_cell())) s;

COMMENT ON COLUMN research.children_in_care_year.suppression IS
    'withheld when the count is suppressed (whether it was small or protects another is not told: that would bound it); NULL when published.';
COMMENT ON COLUMN research.route_paths.suppression IS
    'withheld when the count is suppressed; NULL when published.';
COMMENT ON COLUMN research.waiting_time_year.suppression IS
    'withheld when the count is suppressed; NULL when published.';
COMMENT ON VIEW research.waiting_time_year IS
    'Started care episodes by year of start, municipality and waiting band (request or allocation to start: 0-4w, 4-8w, 8-13w, 13w+), with TOTAL rows and columns; suppressed like research.children_in_care_year, and also so that its totals do not narrow a withheld total of children_in_care_year.';

SELECT ops.secure_all();
