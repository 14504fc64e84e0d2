"""表6 脱贫人口就业: one row per county."""
from ..checks import passes
from ..core import HARD, Field, Return, Rule

RETURN = Return(
    return_id="employment", number=6, title="脱贫人口就业", grain="county",
    fields=(
        Field("employed_persons", "脱贫人口务工就业人数", "count", unit="人"),
        Field("employment_target", "务工就业目标任务人数", "count", unit="人"),
        Field("labor_households", "有劳动力的脱贫户数", "count", unit="户"),
        Field("labor_households_employed", "至少一人就业户数", "count", unit="户"),
    ),
    rules=(
        Rule("employment.labor_households_employed.above_total", HARD, ("labor_households_employed",),
             lambda df, ctx: passes(df.labor_households_employed <= df.labor_households),
             "至少一人就业户数大于有劳动力的脱贫户数",
             "households with someone employed exceed the households with labour",
             sql="labor_households_employed <= labor_households"),
    ),
)
