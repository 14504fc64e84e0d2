-- 七、乡村建设示范创建 (表9 construction, period P)
select a.area_code,
       count(*) filter (where t.demo_county)       as demo_counties,
       coalesce(sum(t.demo_towns), 0)              as demo_towns,
       coalesce(sum(t.demo_villages), 0)           as demo_villages,
       coalesce(sum(t.wellness_villages), 0)       as wellness_villages,
       coalesce(sum(t.tourism_villages), 0)        as tourism_villages,
       coalesce(sum(t.livable_villages), 0)        as livable_villages,
       coalesce(sum(t.consolidation_projects), 0)  as consolidation_projects
from ref.areas a
left join ref.area_members m on m.area_code = a.area_code
left join staging.construction t on t.county_code = m.county_code and t.period = getvariable('period')
group by a.area_code
