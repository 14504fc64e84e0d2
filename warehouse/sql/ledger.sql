-- The statements of warehouse/ledger.py (LedgerStore): what intake decided, kept in the run's
-- transaction.  Each block is named by its `-- name:` line; `{staging}` stands for the table
-- staging.<return_id>, the only name filled in (from the declarations, never from input).

-- name: stale_files
select count(*) from landing.files where starts_with(source, ? || '/') and rules_version <> ?;

-- name: inventory
select * from landing.inventory where period = $period
  and ($return_id is null or return_id = $return_id)
  and ($kinds is null or list_contains($kinds, kind))
order by source, sheet;

-- name: delete_inventory
delete from landing.inventory where period = $period
  and ($county is null or county_code = $county)
  and ($returns is null or return_id is null or list_contains($returns, return_id));

-- name: in_force
select county_code, submission_id from landing.submissions
where period = ? and return_id = ? and status = 'accepted';

-- name: decided_counties
select distinct county_code from landing.submissions
where period = ? and return_id = ? and status in ('accepted', 'rejected');

-- name: known_versions
-- A file unchanged since it was last read under these rules holds the version it held then; a
-- version rejected only for another county's rows (city-wide uniqueness) is left out: looked at again.
select e.source, e.sheet, min(f.submission_id) from __entries e
join landing.files f on f.source = e.source and coalesce(f.sheet, '') = e.sheet
     and f.file_sha256 = e.file_sha256 and f.rules_version = ?
join landing.submissions s using (submission_id)
where not (coalesce(s.hard_count, 0) > 0 and s.hard_count = (
    select count(*) from quality.violations v
    where v.submission_id = s.submission_id and v.rule_id like '%.unique_city'))
group by all;

-- name: existing_submissions
select submission_id from landing.submissions where submission_id in (select unnest($sids::varchar[]));

-- name: insert_submissions
-- new versions (__records: one row each, the status already set)
insert into landing.submissions by name select * exclude (rejected) from __records;

-- name: update_submissions
-- known versions read again from the files that hold them now (__records): the ledger describes
-- the file that holds each now; a recording with a hard violation rejects it
update landing.submissions s set source = r.source, sheet = r.sheet, file_sha256 = r.file_sha256, notes = r.notes,
    layout = r.layout, rows = r.rows, hard_count = r.hard_count, soft_count = r.soft_count,
    status = case when r.rejected then 'rejected' else s.status end
from __records r where s.submission_id = r.submission_id;

-- name: delete_violations_of
delete from quality.violations where submission_id in (select unnest($sids::varchar[]));

-- name: delete_files
delete from landing.files f using __files n where f.source = n.source and coalesce(f.sheet, '') = coalesce(n.sheet, '');

-- name: insert_files
insert into landing.files by name select * from __files;

-- name: unstage_versions
delete from {staging} where period = $period and submission_id in (select unnest($sids::varchar[]));

-- name: versions
select s.submission_id, s.first_seen_at, s.source, s.sheet,
       exists (select 1 from quality.violations v
               where v.submission_id = s.submission_id and v.rule_id = $duplicate) as duplicate
from landing.submissions s where s.submission_id in (select unnest($sids::varchar[]));

-- name: relocate_submission
update landing.submissions set source = ?, sheet = ?, file_sha256 = ? where submission_id = ?;

-- name: relocate_violations
update quality.violations set source = ?, sheet = ? where submission_id = ?;

-- name: drop_violations
delete from quality.violations where submission_id = ? and rule_id = ?;

-- name: unstage_version
delete from {staging} where period = ? and county_code = ? and submission_id = ?;

-- name: city_key_holders
-- the rows of the holders' versions whose key another county also holds, after the first holder
with everyone as (
    select s."{key}" as key, s.county_code, h.ord, s.source_row from {staging} s
    join __holders h using (county_code, submission_id) where s.period = ?
), first_holder as (
    select key, arg_min(county_code, ord) as holder, min(ord) as first_ord from everyone
    where key is not null group by key having count(distinct county_code) > 1
)
select e.county_code, e.source_row, e.key, f.holder from everyone e join first_holder f using (key)
where e.ord >= 0 and e.ord > f.first_ord and e.county_code <> f.holder
order by e.county_code, e.source_row;

-- name: add_hard
update landing.submissions set hard_count = hard_count + ?, status = 'rejected' where submission_id = ?;

-- name: close_rejected
-- a rejected version no file holds any more (__counties: the counties decided, with the newest first
-- seen of the versions present; $present, $files: those versions and their files): superseded if
-- its file now holds another version or a version first seen since then is there in its place,
-- else withdrawn
update landing.submissions s
set status = case when s.first_seen_at <= c.newest_seen
                    or list_contains($files, s.source || '!' || coalesce(s.sheet, '')) then 'superseded'
                  else 'withdrawn' end
from __counties c
where s.period = $period and s.county_code = c.county_code and s.return_id = $return_id and s.status = 'rejected'
  and s.submission_id not in (select unnest($present::varchar[]));

-- name: withdraw
update landing.submissions set status = 'withdrawn'
where period = ? and county_code = ? and return_id = ? and status = 'accepted';

-- name: unstage_county
delete from {staging} where period = ? and county_code = ?;

-- name: keep_in_staging
-- per county of __keep, only the rows of its version in force (none: no rows)
delete from {staging} t using __keep k
where t.period = $period and t.county_code = k.county_code and t.submission_id is distinct from k.submission_id;

-- name: hard_counts
select submission_id, hard_count from landing.submissions where submission_id in (select unnest($sids::varchar[]));

-- name: set_status
update landing.submissions set status = ? where submission_id = ?;

-- name: counts
select submission_id, rows, hard_count, soft_count from landing.submissions
where submission_id in (select unnest($sids::varchar[]));

-- name: has_violation
select 1 from quality.violations where submission_id = ? and rule_id = ?;

-- name: staged_rows
select count(*) from {staging} where period = ?;

-- name: delete_cross_violations
delete from quality.violations where period = ? and rule_id like 'cross.%';

-- name: cross_found
-- a cross rule's findings (its query from schemas.cross, put in below), with the version in force they concern
with found(county_code, return_id, field, source_row, business_key, value, other) as ({rule})
select f.*, s.submission_id, s.source, s.sheet, s.layout from found f
join landing.submissions s on s.period = $period and s.county_code = f.county_code
     and s.return_id = f.return_id and s.status = 'accepted';

-- name: reopen_violations
-- open: the violations of the versions that need a clerk or are in force; a version superseded or
-- withdrawn (its file replaced or removed) leaves its violations closed
update quality.violations v
set status = case when s.status in ('accepted', 'rejected') then 'open' else 'closed' end, explanation = null
from landing.submissions s where v.period = ? and s.submission_id = v.submission_id;

-- name: explainable
-- the soft warnings an explanation may answer: open, of the versions in force
select v.rowid as violation_id, v.county_code, v.return_id, v.rule_id, v.business_key, v.severity
from quality.violations v
where v.period = ? and v.severity = 'soft' and v.status = 'open'
  and v.submission_id in (select submission_id from landing.submissions where status = 'accepted');

-- name: explain
update quality.violations v set status = 'explained', explanation = e.explanation
from __explained e where v.rowid = e.violation_id;

-- name: open_soft
select count(*) from quality.violations where period = ? and severity = 'soft' and status = 'open';
