-- The floor: plain DuckDB SQL over the same 表1 CSV files the pipeline reads. It types the values,
-- applies the same rules of 表1 (the same rule ids, hard and soft), rejects a county's file on any
-- hard violation, and computes the monitoring section for the 7 counties and the city from the
-- files that are accepted, and stores the accepted rows, ID numbers hashed with a key, in a table of
-- the database file. Variables: files (a glob of the county files), cutoff (DATE), key (VARCHAR).
create or replace temp table raw as
select regexp_extract(filename, '/(\d{6})/[^/]*$', 1) as folder_county,
       "户编号" as household_id, "户主身份证号" as head_id_number, "县区代码" as county_code, "乡镇" as township,
       "行政村" as village, "家庭人口数" as household_size_raw, "监测对象类型" as monitoring_type,
       "主要风险类型" as main_risk_raw, "纳入监测日期" as enrolled_raw, "风险是否消除" as eliminated_raw,
       "风险消除日期" as eliminated_on_raw, "是否返贫致贫" as returned_raw
from read_csv(getvariable('files'), all_varchar = true, header = true, filename = true);

create or replace temp table typed as
select *,
       try_cast(trim(household_size_raw) as bigint) as household_size,
       case trim(main_risk_raw) when '因灾' then '因自然灾害' when '住房出现安全问题' then '住房安全'
            when '饮水安全问题' then '饮水安全' else trim(main_risk_raw) end as main_risk,
       try_cast(trim(enrolled_raw) as date) as enrolled_on,
       case trim(eliminated_raw) when '是' then true when '否' then false end as risk_eliminated,
       try_cast(nullif(trim(eliminated_on_raw), '') as date) as eliminated_on,
       case trim(returned_raw) when '是' then true when '否' then false end as returned_to_poverty,
       regexp_full_match(head_id_number, '\d{17}[\dX]') as id_ok,
       try_strptime(substr(head_id_number, 7, 8), '%Y%m%d') as born
from raw;

create or replace temp table violations as
with r as (select * from typed)
select folder_county, rule_id, severity, count(*) as n from (
    select folder_county, 'monitoring_households.household_size.type' as rule_id, 'hard' as severity from r where household_size is null and nullif(trim(household_size_raw), '') is not null
    union all select folder_county, 'monitoring_households.household_size.min', 'hard' from r where household_size < 1
    union all select folder_county, 'monitoring_households.household_size.max', 'hard' from r where household_size > 20
    union all select folder_county, 'monitoring_households.household_size.soft_max', 'soft' from r where household_size > 12
    union all select folder_county, 'monitoring_households.monitoring_type.category', 'hard' from r
              where monitoring_type not in ('脱贫不稳定户', '边缘易致贫户', '突发严重困难户')
    union all select folder_county, 'monitoring_households.main_risk.category', 'hard' from r
              where main_risk not in ('因病', '因残', '因学', '因自然灾害', '因意外事故', '因产业项目失败', '因务工就业不稳',
                                      '因疫', '缺劳动力', '住房安全', '饮水安全', '其他')
    union all select folder_county, 'monitoring_households.county_code.county', 'hard' from r where county_code <> folder_county
    union all select folder_county, 'monitoring_households.household_id.prefix', 'hard' from r where not starts_with(household_id, folder_county)
    union all select folder_county, 'monitoring_households.head_id_number.format', 'hard' from r where not id_ok
    union all select folder_county, 'monitoring_households.head_id_number.check_digit', 'hard' from r where id_ok and
              substr('10X98765432', 1 + (
                  7 * substr(head_id_number, 1, 1)::int + 9 * substr(head_id_number, 2, 1)::int + 10 * substr(head_id_number, 3, 1)::int
                + 5 * substr(head_id_number, 4, 1)::int + 8 * substr(head_id_number, 5, 1)::int + 4 * substr(head_id_number, 6, 1)::int
                + 2 * substr(head_id_number, 7, 1)::int + 1 * substr(head_id_number, 8, 1)::int + 6 * substr(head_id_number, 9, 1)::int
                + 3 * substr(head_id_number, 10, 1)::int + 7 * substr(head_id_number, 11, 1)::int + 9 * substr(head_id_number, 12, 1)::int
                + 10 * substr(head_id_number, 13, 1)::int + 5 * substr(head_id_number, 14, 1)::int + 8 * substr(head_id_number, 15, 1)::int
                + 4 * substr(head_id_number, 16, 1)::int + 2 * substr(head_id_number, 17, 1)::int) % 11, 1) <> substr(head_id_number, 18, 1)
    union all select folder_county, 'monitoring_households.head_id_number.birth_date', 'hard' from r where id_ok and born is null
    union all select folder_county, 'monitoring_households.head_id_number.outside_shaanxi', 'soft' from r where id_ok and not starts_with(head_id_number, '61')
    union all select folder_county, 'monitoring_households.enrolled_on.type', 'hard' from r where enrolled_on is null and nullif(trim(enrolled_raw), '') is not null
    union all select folder_county, 'monitoring_households.enrolled_on.after_cutoff', 'hard' from r where enrolled_on > getvariable('cutoff')
    union all select folder_county, 'monitoring_households.enrolled_on.before_birth', 'hard' from r where enrolled_on < born
    union all select folder_county, 'monitoring_households.eliminated_on.required', 'hard' from r where risk_eliminated and eliminated_on is null
    union all select folder_county, 'monitoring_households.eliminated_on.unexpected', 'hard' from r where not risk_eliminated and eliminated_on is not null
    union all select folder_county, 'monitoring_households.eliminated_on.before_enrolment', 'hard' from r where eliminated_on < enrolled_on
    union all select folder_county, 'monitoring_households.eliminated_on.after_cutoff', 'hard' from r where eliminated_on > getvariable('cutoff')
    union all select folder_county, 'monitoring_households.household_id.unique', 'hard' from
              (select folder_county, row_number() over (partition by folder_county, household_id) as k from r) where k > 1
) group by all;

-- a county's file with any hard violation is rejected; the accepted rows are stored, the ID number
-- as a keyed SHA-256, and the section reads them
create or replace table households as
select folder_county, household_id, sha256(getvariable('key') || head_id_number) as head_id_hash, county_code,
       township, village, household_size, monitoring_type, main_risk, enrolled_on, risk_eliminated, eliminated_on,
       returned_to_poverty
from typed where folder_county not in (select folder_county from violations where severity = 'hard');

create or replace temp table monitoring as
with accepted as (
    select * from households
), areas(area_code, county_code) as (
    select folder_county, folder_county from (select distinct folder_county from raw)
    union all select '611000', folder_county from (select distinct folder_county from raw)
)
select a.area_code,
       count(t.household_id) as monitored_households,
       coalesce(sum(t.household_size), 0) as monitored_persons,
       count(t.household_id) filter (where t.risk_eliminated) as risk_eliminated_households,
       coalesce(sum(t.household_size) filter (where t.risk_eliminated), 0) as risk_eliminated_persons,
       100.0 * sum(t.household_size) filter (where t.risk_eliminated) / sum(t.household_size) as risk_elimination_rate,
       count(t.household_id) filter (where t.returned_to_poverty) as returned_to_poverty_households
from areas a left join accepted t on t.folder_county = a.county_code
group by a.area_code order by a.area_code;
