-- 八、帮扶协作和驻村帮扶 (表10 assistance, 表5 village_register, period P)
with p as (
    select a.area_code,
           sum(t.funds_invested_10k_yuan) filter (where t.programme in ('科技特派团', '组团式帮扶', '定点帮扶', '对口帮扶')) as paired_funds,
           sum(t.projects) filter (where t.programme in ('科技特派团', '组团式帮扶', '定点帮扶', '对口帮扶')) as paired_projects,
           sum(t.enterprises) filter (where t.programme = '宁商协作')             as nj_enterprises,
           sum(t.funds_invested_10k_yuan) filter (where t.programme = '宁商协作') as nj_funds,
           sum(t.exchange_batches) filter (where t.programme = '宁商协作')        as nj_batches,
           sum(t.exchange_persons) filter (where t.programme = '宁商协作')        as nj_persons,
           sum(t.funds_attracted_10k_yuan) filter (where t.programme in ('万企兴万村', '社会组织帮扶')) as es_attracted,
           sum(t.donations_10k_yuan) filter (where t.programme in ('万企兴万村', '社会组织帮扶'))       as es_donations,
           sum(t.projects) filter (where t.programme in ('万企兴万村', '社会组织帮扶'))                 as es_projects,
           sum(t.projects) filter (where t.programme = '驻村帮扶')                as rt_projects,
           sum(t.funds_invested_10k_yuan) filter (where t.programme = '驻村帮扶') as rt_funds,
           sum(t.funds_attracted_10k_yuan) filter (where t.programme = '驻村帮扶') as rt_attracted
    from ref.areas a
    left join ref.area_members m on m.area_code = a.area_code
    left join staging.assistance t on t.county_code = m.county_code and t.period = getvariable('period')
    group by a.area_code
), v as (
    select a.area_code,
           count(*) filter (where t.assistance_category = '五类村' and t.resident_team = '第一书记和驻村工作队') as five_type,
           count(*) filter (where t.assistance_category = '其他类型村(社区)' and t.resident_team = '帮扶工作队') as other_team,
           count(*) filter (where t.assistance_category <> '无巩固衔接任务' and t.resident_team = '无') as without_team
    from ref.areas a
    left join ref.area_members m on m.area_code = a.area_code
    left join staging.village_register t on t.county_code = m.county_code and t.period = getvariable('period')
    group by a.area_code
)
select p.area_code,
       sl_per_10k(paired_funds)      as paired_assistance_funds,
       coalesce(paired_projects, 0)  as paired_assistance_projects,
       coalesce(nj_enterprises, 0)   as nanjing_enterprises,
       sl_per_10k(nj_funds)          as nanjing_funds,
       coalesce(nj_batches, 0)       as nanjing_exchange_batches,
       coalesce(nj_persons, 0)       as nanjing_exchange_persons,
       coalesce(es_attracted, 0)     as enterprise_social_funds_attracted,
       coalesce(es_donations, 0)     as charity_donations,
       coalesce(es_projects, 0)      as enterprise_social_projects,
       five_type                     as five_type_villages_with_first_secretary,
       other_team                    as other_villages_with_team,
       without_team                  as task_villages_without_team,
       coalesce(rt_projects, 0)      as resident_team_projects,
       sl_per_10k(rt_funds)          as resident_team_funds_direct,
       sl_per_10k(rt_attracted)      as resident_team_funds_attracted
from p join v using (area_code)
