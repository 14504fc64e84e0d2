"""表10 帮扶协作: one row per county and programme, cumulative to the cut-off."""
from ..checks import passes
from ..core import HARD, Field, Return, Rule

PROGRAMMES = ("科技特派团", "组团式帮扶", "定点帮扶", "对口帮扶", "宁商协作", "万企兴万村", "社会组织帮扶", "驻村帮扶")

RETURN = Return(
    return_id="assistance", number=10, title="帮扶协作", grain="rows",
    key=("programme",), unique_in="county",
    fields=(
        Field("programme", "帮扶类型", "category", values=PROGRAMMES),
        Field("projects", "项目数(个)", "count"),
        Field("funds_invested_10k_yuan", "投入资金(万元)", "amount"),
        Field("funds_attracted_10k_yuan", "引进资金(万元)", "amount"),
        Field("donations_10k_yuan", "公益募捐资金(万元)", "amount"),
        Field("enterprises", "引进企业(家)", "count"),
        Field("exchange_batches", "交流互访(批次)", "count"),
        Field("exchange_persons", "交流互访(人次)", "count"),
    ),
    rules=(
        Rule("assistance.exchange_persons.below_batches", HARD, ("exchange_persons",),
             lambda df, ctx: passes(df.exchange_persons >= df.exchange_batches),
             "交流互访人次少于批次", "exchange person-times are fewer than exchange batches",
             sql="exchange_persons >= exchange_batches"),
    ),
)
