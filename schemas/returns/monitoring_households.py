"""表1 防返贫监测对象台账: one row per monitored household, cumulative to the cut-off."""
from ..checks import ID_PATTERN, id_birth_date, not_before, passes, sql_id_birth_date, sql_id_ok
from ..core import HARD, SOFT, Field, Return, Rule

RISKS = ("因病", "因残", "因学", "因自然灾害", "因意外事故", "因产业项目失败", "因务工就业不稳", "因疫",
         "缺劳动力", "住房安全", "饮水安全", "其他")

RETURN = Return(
    return_id="monitoring_households", number=1, title="防返贫监测对象台账", grain="rows",
    key=("household_id",), unique_in="city",
    fields=(
        Field("household_id", "户编号", "code", county_prefix=True),
        Field("head_id_number", "户主身份证号", "id_number"),
        Field("county_code", "县区代码", "county"),
        Field("township", "乡镇"),
        Field("village", "行政村"),
        Field("household_size", "家庭人口数", "count", unit="人", min=1, max=20, soft_max=12),
        Field("monitoring_type", "监测对象类型", "category", values=("脱贫不稳定户", "边缘易致贫户", "突发严重困难户")),
        Field("main_risk", "主要风险类型", "category", values=RISKS,
              value_aliases={"因灾": "因自然灾害", "住房出现安全问题": "住房安全", "饮水安全问题": "饮水安全"}),
        Field("enrolled_on", "纳入监测日期", "date"),
        Field("risk_eliminated", "风险是否消除", "bool"),
        Field("eliminated_on", "风险消除日期", "date", required=False),
        Field("returned_to_poverty", "是否返贫致贫", "bool"),
    ),
    rules=(
        Rule("monitoring_households.enrolled_on.after_cutoff", HARD, ("enrolled_on",),
             lambda df, ctx: passes(df.enrolled_on <= ctx.cutoff),
             "纳入监测日期晚于统计截止日期", "enrolment date is after the cut-off date",
             sql="enrolled_on <= $cutoff"),
        Rule("monitoring_households.enrolled_on.before_birth", HARD, ("enrolled_on",),
             lambda df, ctx: not_before(df.enrolled_on, id_birth_date(df.head_id_number)),
             "纳入监测日期早于户主出生日期", "enrolment date is before the head's birth date",
             sql=f"enrolled_on >= {sql_id_birth_date('head_id_number')}"),
        Rule("monitoring_households.eliminated_on.required", HARD, ("eliminated_on",),
             lambda df, ctx: passes((df.risk_eliminated != True) | df.eliminated_on.notna()),  # noqa: E712
             "风险已消除但未填写风险消除日期", "risk eliminated but no elimination date given",
             sql="risk_eliminated is distinct from true or eliminated_on is not null"),
        Rule("monitoring_households.eliminated_on.unexpected", HARD, ("eliminated_on",),
             lambda df, ctx: passes((df.risk_eliminated != False) | df.eliminated_on.isna()),  # noqa: E712
             "风险未消除却填写了风险消除日期", "elimination date given although the risk is not eliminated",
             sql="risk_eliminated is distinct from false or eliminated_on is null"),
        Rule("monitoring_households.eliminated_on.before_enrolment", HARD, ("eliminated_on",),
             lambda df, ctx: passes(df.eliminated_on >= df.enrolled_on),
             "风险消除日期早于纳入监测日期", "elimination date is before the enrolment date",
             sql="eliminated_on >= enrolled_on"),
        Rule("monitoring_households.eliminated_on.after_cutoff", HARD, ("eliminated_on",),
             lambda df, ctx: passes(df.eliminated_on <= ctx.cutoff),
             "风险消除日期晚于统计截止日期", "elimination date is after the cut-off date",
             sql="eliminated_on <= $cutoff"),
        Rule("monitoring_households.head_id_number.outside_shaanxi", SOFT, ("head_id_number",),
             lambda df, ctx: passes(~df.head_id_number.str.fullmatch(ID_PATTERN) | (df.head_id_number.str.slice(0, 2) == "61")),
             "户主身份证号地址码不属于陕西省，请核实", "the head's ID number is not from Shaanxi (61): please verify",
             sql=f"not {sql_id_ok('head_id_number')} or starts_with(head_id_number, '61')"),
    ),
)
