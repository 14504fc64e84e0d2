"""表3 兜底保障: one row per county."""
from ..checks import passes
from ..core import SOFT, Field, Return, Rule


def _per_head_within(amount, heads, low, high):
    """元 per person (or person-time) within [low, high]; amounts are in 万元."""
    def check(df, ctx):
        # as the SQL form: a zero count passes; so does a value missing or no number (NULL in SQL: the
        # required and type rules' job); a negative count gives a negative amount per head, outside
        per_head = df[amount].astype("float64") * 10000 / df[heads].astype("float64").where(df[heads] != 0)
        return passes(((per_head >= low) & (per_head <= high)) | per_head.isna())
    return check


RETURN = Return(
    return_id="social_assistance", number=3, title="兜底保障", grain="county",
    fields=(
        Field("dibao_tekun_persons", "农村低保和特困供养人数", "count", unit="人"),
        Field("dibao_tekun_funds_10k_yuan", "低保和特困供养资金(万元)", "amount"),
        Field("temporary_aid_person_times", "临时救助人次", "count", unit="人次"),
        Field("temporary_aid_funds_10k_yuan", "临时救助资金(万元)", "amount"),
    ),
    rules=(
        Rule("social_assistance.dibao_tekun_funds.per_person", SOFT, ("dibao_tekun_funds_10k_yuan",),
             _per_head_within("dibao_tekun_funds_10k_yuan", "dibao_tekun_persons", 500, 20000),
             "低保和特困供养资金人均不在500–20000元之间，请核实单位（元/万元）",
             "dibao and tekun funds per person are outside 500–20000 yuan: check the unit (yuan / 10k yuan)",
             sql="dibao_tekun_persons = 0 or dibao_tekun_funds_10k_yuan * 10000 / dibao_tekun_persons between 500 and 20000"),
        Rule("social_assistance.temporary_aid_funds.per_person_time", SOFT, ("temporary_aid_funds_10k_yuan",),
             _per_head_within("temporary_aid_funds_10k_yuan", "temporary_aid_person_times", 100, 5000),
             "临时救助资金每人次不在100–5000元之间，请核实单位（元/万元）",
             "temporary aid per person-time is outside 100–5000 yuan: check the unit (yuan / 10k yuan)",
             sql="temporary_aid_person_times = 0 or temporary_aid_funds_10k_yuan * 10000 / temporary_aid_person_times between 100 and 5000"),
    ),
)
