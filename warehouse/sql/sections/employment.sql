-- 四、就业 (表6 employment, period P)
select a.area_code,
       sl_per_10k(sum(t.employed_persons))                                        as employed_persons,
       sl_per_10k(sum(t.employment_target))                                       as employment_target,
       sl_pct(sum(t.employed_persons), sum(t.employment_target))                  as employment_target_completion,
       sl_per_10k(sum(t.labor_households))                                        as labor_households,
       coalesce(sum(t.labor_households), 0) - coalesce(sum(t.labor_households_employed), 0)
                                                                                  as labor_households_without_employment
from ref.areas a
left join ref.area_members m on m.area_code = a.area_code
left join staging.employment t on t.county_code = m.county_code and t.period = getvariable('period')
group by a.area_code
