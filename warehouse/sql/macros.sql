-- Exact arithmetic for figures: DuckDB divides DECIMALs in DOUBLE, so ratios are computed on
-- integers (scaled by 10^6) and truncated at 12 decimals.  Truncation never crosses a rounding
-- boundary upwards, so half-up rounding of the result at <= 2 decimals is exact.
create or replace macro sl_ratio(n, d) as
    case when d is null or d = 0 or n is null then null
         else cast(cast(cast(n as decimal(38, 6)) * 1000000 as hugeint) * 1000000000000
                   // cast(cast(d as decimal(38, 6)) * 1000000 as hugeint) as decimal(38, 0))
              * cast(0.000000000001 as decimal(13, 12)) end;
create or replace macro sl_pct(n, d) as sl_ratio(cast(n as decimal(38, 6)) * 100, d);
-- 万 (10^4) and 亿 from 万: an exact decimal shift.
create or replace macro sl_per_10k(x) as cast(coalesce(x, 0) as decimal(38, 6)) * cast(0.0001 as decimal(5, 4));
