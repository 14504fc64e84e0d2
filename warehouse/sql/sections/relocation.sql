-- 五、易地扶贫搬迁后续扶持 (表7 relocation_sites, period P)
select a.area_code,
       sl_per_10k(sum(t.households)) as relocated_households,
       sl_per_10k(sum(t.persons))    as relocated_persons
from ref.areas a
left join ref.area_members m on m.area_code = a.area_code
left join staging.relocation_sites t on t.county_code = m.county_code and t.period = getvariable('period')
group by a.area_code
