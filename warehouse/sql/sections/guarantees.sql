-- 二、三保障和兜底保障 (表2 guarantees, 表3 social_assistance, period P)
with g as (
    select a.area_code,
           sum(t.student_aid_person_times) as student_aid, sum(t.compulsory_dropouts) as dropouts,
           sum(t.insurance_base_persons) as base, sum(t.insured_persons) as insured,
           sum(t.inpatient_cost_10k_yuan) as cost, sum(t.inpatient_reimbursed_10k_yuan) as reimbursed,
           sum(t.dilapidated_house_renovations) as dilapidated, sum(t.model_houses) as model,
           sum(t.seismic_retrofits) as seismic
    from ref.areas a
    left join ref.area_members m on m.area_code = a.area_code
    left join staging.guarantees t on t.county_code = m.county_code and t.period = getvariable('period')
    group by a.area_code
), s as (
    select a.area_code,
           sum(t.dibao_tekun_persons) as dibao_persons, sum(t.dibao_tekun_funds_10k_yuan) as dibao_funds,
           sum(t.temporary_aid_person_times) as aid_times, sum(t.temporary_aid_funds_10k_yuan) as aid_funds
    from ref.areas a
    left join ref.area_members m on m.area_code = a.area_code
    left join staging.social_assistance t on t.county_code = m.county_code and t.period = getvariable('period')
    group by a.area_code
)
select g.area_code,
       sl_per_10k(student_aid)                        as student_aid_person_times,
       coalesce(dropouts, 0)                          as compulsory_dropouts,
       coalesce(base, 0) - coalesce(insured, 0)       as uninsured_persons,
       sl_pct(reimbursed, cost)                       as inpatient_reimbursement_rate,
       coalesce(dilapidated, 0)                       as dilapidated_house_renovations,
       coalesce(model, 0)                             as model_houses,
       coalesce(seismic, 0)                           as seismic_retrofits,
       sl_per_10k(dibao_persons)                      as dibao_tekun_persons,
       sl_per_10k(dibao_funds)                        as dibao_tekun_funds,
       sl_per_10k(aid_times)                          as temporary_aid_person_times,
       sl_per_10k(aid_funds)                          as temporary_aid_funds
from g join s using (area_code)
