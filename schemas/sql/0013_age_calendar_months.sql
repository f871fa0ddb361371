-- Ages that do not step inside a month (issue 16). Until now client.age_months was the exact age in
-- whole months at occurred_on: across a child's events, the day of the month on which it stepped up
-- gave the birth day away (on the demo region the exact birth date of 904 of 15,635 children). From
-- now on it is the age in calendar months, (year, month) of occurred_on minus birth_ym, a function
-- of birth_ym and the month of occurred_on only (docs/contracts.md).
--
-- * Every stored event gets its age rewritten that way (an event stored before this migration keeps
--   no trace of the day its age stepped).
-- * A check constraint refuses an event whose age_months is anything else, so that an edge that still
--   runs the old rule, or a misconfigured one, cannot put a stepping age into the warehouse: the
--   upsert refuses it, staging.isolate_refused finds it, the linker dead-letters it (pg:23514). The
--   linker checks the same before (age_not_calendar), so the constraint is the last line.

UPDATE staging.event
   SET payload = jsonb_set(payload, '{client,age_months}',
                           to_jsonb((extract(year FROM occurred_on)::int * 12 + extract(month FROM occurred_on)::int)
                                    - (substr(f_birth_ym, 1, 4)::int * 12 + substr(f_birth_ym, 6, 2)::int)))
 WHERE f_birth_ym ~ '^[0-9]{4}-[0-9]{2}$'
   AND jsonb_typeof(payload #> '{client,age_months}') = 'number'
   AND (payload #>> '{client,age_months}')::numeric
       <> (extract(year FROM occurred_on)::int * 12 + extract(month FROM occurred_on)::int)
          - (substr(f_birth_ym, 1, 4)::int * 12 + substr(f_birth_ym, 6, 2)::int);

ALTER TABLE staging.event
    ADD CONSTRAINT event_age_calendar_months CHECK (
        jsonb_typeof(payload #> '{client,age_months}') IS NULL
        OR f_birth_ym IS NULL
        OR (jsonb_typeof(payload #> '{client,age_months}') = 'number'
            AND f_birth_ym ~ '^[0-9]{4}-[0-9]{2}$'
            AND (payload #>> '{client,age_months}')::numeric
                = (extract(year FROM occurred_on)::int * 12 + extract(month FROM occurred_on)::int)
                  - (substr(f_birth_ym, 1, 4)::int * 12 + substr(f_birth_ym, 6, 2)::int)));
COMMENT ON CONSTRAINT event_age_calendar_months ON staging.event IS
    'client.age_months is the age in calendar months (month of occurred_on minus birth_ym), never the exact age: an age that steps inside a month gives the birth day away (docs/contracts.md).';
