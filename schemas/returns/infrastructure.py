"""表8 基础设施和人居环境: one row per county."""
from ..checks import passes
from ..core import HARD, Field, Return, Rule

RETURN = Return(
    return_id="infrastructure", number=8, title="基础设施和人居环境", grain="county",
    fields=(
        Field("clinics_built", "新建村卫生室(个)", "count"),
        Field("water_cellars_eliminated", "消除直饮水窖(眼)", "count"),
        Field("rural_population", "农村常住人口", "count", unit="人"),
        Field("tap_water_population", "自来水受益人口", "count", unit="人"),
        Field("group_roads_km", "建成通组路(公里)", "amount"),
        Field("hardened_roads", "硬化乡村道路(条)", "count"),
        Field("hardened_roads_km", "硬化乡村道路(公里)", "amount"),
        Field("four_good_roads_level", "四好农村路示范县", "category", values=("国家级", "省级", "无")),
        Field("toilets_renovated", "农村改厕(座)", "count"),
        Field("national_key_towns", "国家重点镇(个)", "count"),
        Field("leisure_villages", "最美休闲乡村(个)", "count"),
        Field("provincial_model_villages", "省级美丽宜居示范村(个)", "count"),
    ),
    rules=(
        Rule("infrastructure.tap_water_population.above_rural", HARD, ("tap_water_population",),
             lambda df, ctx: passes(df.tap_water_population <= df.rural_population),
             "自来水受益人口大于农村常住人口", "tap-water population exceeds the rural resident population",
             sql="tap_water_population <= rural_population"),
    ),
)
