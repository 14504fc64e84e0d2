"""表7 易地扶贫搬迁安置点: one row per resettlement site."""
from ..checks import passes
from ..core import HARD, Field, Return, Rule

TYPES = ("type_migrant_work", "type_community_worker", "type_services", "type_farming", "type_safety_net")

RETURN = Return(
    return_id="relocation_sites", number=7, title="易地扶贫搬迁安置点", grain="rows",
    key=("site_name",), unique_in="county",
    fields=(
        Field("site_name", "安置点名称"),
        Field("county_code", "县区代码", "county"),
        Field("households", "搬迁户数", "count", unit="户"),
        Field("persons", "搬迁人数", "count", unit="人"),
        Field("type_migrant_work", "外出务工型(户)", "count"),
        Field("type_community_worker", "社区工人型(户)", "count"),
        Field("type_services", "三产服务型(户)", "count"),
        Field("type_farming", "传统农民型(户)", "count"),
        Field("type_safety_net", "兜底保障型(户)", "count"),
        Field("has_vegetable_plots", "小菜园", "bool"),
        Field("has_storerooms", "小库房", "bool"),
        Field("has_shop", "小超市", "bool"),
        Field("has_council", "小理事", "bool"),
        Field("has_cemetery", "小公墓", "bool"),
    ),
    rules=(
        Rule("relocation_sites.persons.below_households", HARD, ("persons",),
             lambda df, ctx: passes(df.persons >= df.households),
             "搬迁人数少于搬迁户数", "relocated persons are fewer than relocated households",
             sql="persons >= households"),
        Rule("relocation_sites.types.sum", HARD, ("households",),
             lambda df, ctx: passes(sum(df[t] for t in TYPES) == df.households),
             "五种就业类型户数之和不等于搬迁户数",
             "the households of the five employment types do not add up to the relocated households",
             sql="type_migrant_work + type_community_worker + type_services + type_farming + type_safety_net = households"),
    ),
)
