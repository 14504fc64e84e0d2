-- 一、防返贫监测 (表1 monitoring_households, period P)
select a.area_code,
       count(t.household_id)                                             as monitored_households,
       coalesce(sum(t.household_size), 0)                                as monitored_persons,
       count(t.household_id) filter (where t.risk_eliminated)            as risk_eliminated_households,
       coalesce(sum(t.household_size) filter (where t.risk_eliminated), 0) as risk_eliminated_persons,
       sl_pct(coalesce(sum(t.household_size) filter (where t.risk_eliminated), 0), sum(t.household_size))
                                                                         as risk_elimination_rate,
       count(t.household_id) filter (where t.returned_to_poverty)        as returned_to_poverty_households
from ref.areas a
left join ref.area_members m on m.area_code = a.area_code
left join staging.monitoring_households t on t.county_code = m.county_code and t.period = getvariable('period')
group by a.area_code
