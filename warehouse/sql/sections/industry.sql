-- 三、特色产业和村集体经济 (表4 industry, 表5 village_register of P and P-1)
with i as (
    select a.area_code,
           sum(t.fungus_bags_10k) as fungus, sum(t.agri_parks) as parks,
           sum(t.leading_enterprises) as enterprises, sum(t.industry_beneficiaries) as beneficiaries,
           count(*) filter (where not t.ecommerce_demo_county) as without_ecommerce
    from ref.areas a
    left join ref.area_members m on m.area_code = a.area_code
    left join staging.industry t on t.county_code = m.county_code and t.period = getvariable('period')
    group by a.area_code
), v as (   -- 行政村 only: 空壳村 income <= 0, 薄弱村 0 < income < 5, 5万元以上 income >= 5
    select a.area_code,
           count(*) filter (where t.period = getvariable('previous_period') and t.collective_income_10k_yuan <= 0) as shell_prev,
           count(*) filter (where t.period = getvariable('period') and t.collective_income_10k_yuan <= 0) as shell,
           count(*) filter (where t.period = getvariable('previous_period') and t.collective_income_10k_yuan > 0
                                  and t.collective_income_10k_yuan < 5) as weak_prev,
           count(*) filter (where t.period = getvariable('period') and t.collective_income_10k_yuan > 0
                                  and t.collective_income_10k_yuan < 5) as weak,
           count(*) filter (where t.period = getvariable('period') and t.collective_income_10k_yuan >= 5) as income_5w_plus
    from ref.areas a
    left join ref.area_members m on m.area_code = a.area_code
    left join staging.village_register t on t.county_code = m.county_code and t.village_kind = '行政村'
         and t.period in (getvariable('period'), getvariable('previous_period'))
    group by a.area_code
)
select i.area_code,
       sl_per_10k(fungus)                 as fungus_bags,
       coalesce(parks, 0)                 as agri_parks,
       coalesce(enterprises, 0)           as leading_enterprises,
       sl_per_10k(beneficiaries)          as industry_beneficiaries,
       without_ecommerce                  as counties_without_ecommerce_demo,
       shell_prev                         as shell_villages_previous,
       shell                              as shell_villages,
       weak_prev - weak                   as weak_villages_reduced,
       income_5w_plus                     as villages_income_5w_plus
from i join v using (area_code)
