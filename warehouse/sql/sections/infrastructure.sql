-- 六、卫生室、饮水、道路和人居环境 (表8 infrastructure, 表5 village_register, period P)
with i as (
    select a.area_code,
           sum(t.clinics_built) as clinics, sum(t.water_cellars_eliminated) as cellars,
           sum(t.rural_population) as rural, sum(t.tap_water_population) as tap,
           sum(t.group_roads_km) as group_km, sum(t.hardened_roads) as roads, sum(t.hardened_roads_km) as roads_km,
           count(*) filter (where t.four_good_roads_level = '国家级') as national_four_good,
           count(*) filter (where t.four_good_roads_level = '省级') as provincial_four_good,
           sum(t.toilets_renovated) as toilets, sum(t.national_key_towns) as key_towns,
           sum(t.leisure_villages) as leisure, sum(t.provincial_model_villages) as model_villages
    from ref.areas a
    left join ref.area_members m on m.area_code = a.area_code
    left join staging.infrastructure t on t.county_code = m.county_code and t.period = getvariable('period')
    group by a.area_code
), v as (   -- 行政村 only
    select a.area_code,
           count(t.village_code) as villages,
           count(*) filter (where not t.has_public_clinic) as without_clinic,
           count(*) filter (where t.sewage_controlled) as sewage_controlled
    from ref.areas a
    left join ref.area_members m on m.area_code = a.area_code
    left join staging.village_register t on t.county_code = m.county_code and t.village_kind = '行政村'
         and t.period = getvariable('period')
    group by a.area_code
)
select i.area_code,
       coalesce(clinics, 0)                   as clinics_built,
       without_clinic                         as villages_without_public_clinic,
       coalesce(cellars, 0)                   as water_cellars_eliminated,
       sl_pct(tap, rural)                     as tap_water_coverage,
       coalesce(group_km, 0)                  as group_roads_km,
       coalesce(roads, 0)                     as hardened_roads,
       coalesce(roads_km, 0)                  as hardened_roads_km,
       national_four_good                     as national_four_good_roads_counties,
       provincial_four_good                   as provincial_four_good_roads_counties,
       sl_per_10k(toilets)                    as toilets_renovated,
       sl_pct(sewage_controlled, villages)    as sewage_controlled_village_share,
       coalesce(key_towns, 0)                 as national_key_towns,
       coalesce(leisure, 0)                   as leisure_villages,
       coalesce(model_villages, 0)            as provincial_model_villages
from i join v using (area_code)
