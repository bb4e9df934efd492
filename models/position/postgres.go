package position

// PostgresFunctions creates taskflow_position_between(before, after,
// jitter) in PostgreSQL, for the migration to run: Between's computation,
// step for step, in exact numeric arithmetic, so a statement can place a
// row among its siblings without a round trip. NULL or the empty string is
// the open end, as "" is for Between. Where Between returns ErrTooLong the function
// returns NULL; where Between returns ErrInvalid it raises
// invalid_parameter_value (22023) with a message like Between's. It needs
// no extension and reads no table, so it is IMMUTABLE and PARALLEL SAFE.
// Its numbers are those of defaultScheme, MaxLen and RebalanceAt;
// TestPostgresMatchesBetween holds the two equal.
//
// A position column compared in SQL must use the C collation (text COLLATE
// "C"): any other orders "a" and "B" by language rules, not by byte.
const PostgresFunctions = `
CREATE OR REPLACE FUNCTION taskflow_position_between(before text, after text, jitter double precision)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $fn$
DECLARE
	digits CONSTANT text := '` + Digits + `';
	len_before int := coalesce(octet_length(before), 0);
	len_after int := coalesce(octet_length(after), 0);
	n int := greatest(len_before, len_after); -- the scale: units of 62^-n
	b numeric := 0;
	a numeric := 0;
	gap numeric;
	w_lo int := 7; -- the window, w_lo/w_den to w_hi/w_den of the gap
	w_hi int := 9;
	w_den int := 16;
	lo numeric;
	hi numeric;
	unit numeric := 1;
	picks numeric;
	pick numeric;
	q numeric;
	key text := '';
	c int;
BEGIN
	IF jitter IS NULL OR NOT (jitter >= 0 AND jitter < 1) THEN -- NaN is neither
		RAISE EXCEPTION 'position: invalid argument: jitter % is not in [0, 1)', coalesce(jitter::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF len_before > 0 AND (len_before > 63 OR right(before, 1) = '0' OR translate(before, digits, '') <> '') THEN
		RAISE EXCEPTION 'position: invalid argument: before % is not a position key', to_json(before)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF len_after > 0 AND (len_after > 63 OR right(after, 1) = '0' OR translate(after, digits, '') <> '') THEN
		RAISE EXCEPTION 'position: invalid argument: after % is not a position key', to_json(after)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	-- Both neighbours as integers of n digits; the open end after is 62^n.
	FOR i IN 1..n LOOP
		c := CASE WHEN i <= len_before THEN ascii(substr(before, i, 1)) ELSE 48 END;
		b := b * 62 + CASE WHEN c <= 57 THEN c - 48 WHEN c <= 90 THEN c - 55 ELSE c - 61 END;
		c := CASE WHEN i <= len_after THEN ascii(substr(after, i, 1)) ELSE 48 END;
		a := a * 62 + CASE WHEN c <= 57 THEN c - 48 WHEN c <= 90 THEN c - 55 ELSE c - 61 END;
	END LOOP;
	IF len_after = 0 THEN
		a := 1;
		FOR i IN 1..n LOOP
			a := a * 62;
		END LOOP;
	END IF;
	IF len_before > 0 AND len_after > 0 AND b >= a THEN
		IF b = a THEN
			RETURN NULL; -- equal neighbours: re-space the siblings
		END IF;
		RAISE EXCEPTION 'position: invalid argument: before % sorts after after %', to_json(before), to_json(after)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	-- Near the neighbour 3 bytes longer than the other, else the middle.
	IF len_before >= len_after + 3 THEN
		w_lo := 1; w_hi := 2; w_den := 3844;
	ELSIF len_after >= len_before + 3 THEN
		w_lo := 3842; w_hi := 3843; w_den := 3844;
	END IF;
	gap := a - b;
	LOOP
		lo := b + div(gap * w_lo, w_den);
		hi := b + div(gap * w_hi, w_den);
		EXIT WHEN hi - lo >= 3844;
		b := b * 62;
		gap := gap * 62;
		n := n + 1;
	END LOOP;

	-- The shortest keys in [lo, hi): multiples of the largest power of 62
	-- of which the window holds enough; the jitter picks one.
	WHILE div(hi + unit * 62 - 1, unit * 62) - div(lo + unit * 62 - 1, unit * 62) >= 3844 LOOP
		unit := unit * 62;
		n := n - 1;
	END LOOP;
	q := div(lo + unit - 1, unit);
	picks := div(hi + unit - 1, unit) - q;
	pick := floor(jitter * picks::double precision);
	IF pick >= picks THEN
		pick := picks - 1;
	END IF;
	q := q + pick;

	FOR i IN 1..n LOOP
		key := substr(digits, (q % 62)::int + 1, 1) || key;
		q := div(q, 62);
	END LOOP;
	key := rtrim(key, '0');
	IF octet_length(key) > 48 THEN
		RETURN NULL; -- too long: re-space the siblings
	END IF;
	RETURN key;
END
$fn$;
`
