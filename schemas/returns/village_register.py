"""表5 行政村(社区)基本情况: one row per village or community."""
import pandas as pd

from ..checks import passes
from ..core import SOFT, Field, Return, Rule


def _kind_agrees_with_code(df, ctx):
    """NBS convention: the last three digits 001–199 are a 社区, 200–399 a 行政村."""
    tail = pd.to_numeric(df.village_code.str.slice(9, 12), errors="coerce")
    expected = pd.Series(pd.NA, index=df.index, dtype="string[pyarrow]")
    expected[(tail >= 1) & (tail <= 199)] = "社区"
    expected[(tail >= 200) & (tail <= 399)] = "行政村"
    return passes(expected.isna() | (df.village_kind == expected))


RETURN = Return(
    return_id="village_register", number=5, title="行政村(社区)基本情况", grain="rows",
    key=("village_code",), unique_in="city",
    fields=(
        Field("village_code", "村代码", "code", length=12, county_prefix=True),
        Field("village_name", "村名称"),
        Field("village_kind", "村(社区)类型", "category", values=("行政村", "社区")),
        Field("county_code", "县区代码", "county"),
        Field("township", "乡镇"),
        Field("assistance_category", "帮扶类别", "category", values=("五类村", "其他类型村(社区)", "无巩固衔接任务")),
        Field("resident_team", "派驻力量", "category", values=("第一书记和驻村工作队", "帮扶工作队", "无")),
        Field("collective_income_10k_yuan", "村集体经济年收益(万元)", "amount", soft_min=0,
              note="行政村: ≤0 为空壳村, <5 为薄弱村"),
        Field("has_public_clinic", "公有产权村卫生室", "bool"),
        Field("sewage_controlled", "生活污水有效管控", "bool"),
    ),
    rules=(
        Rule("village_register.village_kind.code_convention", SOFT, ("village_kind",), _kind_agrees_with_code,
             "村(社区)类型与村代码后三位不符（001–199为社区，200–399为行政村），请核实",
             "village kind disagrees with the code's last three digits (001–199 community, 200–399 village)",
             sql="case when try_cast(substr(village_code, 10, 3) as int) between 1 and 199 then village_kind = '社区' when try_cast(substr(village_code, 10, 3) as int) between 200 and 399 then village_kind = '行政村' end"),
        Rule("village_register.resident_team.five_type", SOFT, ("resident_team",),
             lambda df, ctx: passes((df.assistance_category != "五类村") | (df.resident_team == "第一书记和驻村工作队")),
             "五类村未派驻第一书记和驻村工作队，请核实",
             "a five-type village has no first secretary and resident team: please verify",
             sql="assistance_category <> '五类村' or resident_team = '第一书记和驻村工作队'"),
        Rule("village_register.resident_team.task_without_team", SOFT, ("resident_team",),
             lambda df, ctx: passes((df.assistance_category == "无巩固衔接任务") | (df.resident_team != "无")),
             "有巩固衔接任务的村(社区)无派驻力量，请核实",
             "a village with a consolidation task has no resident team: please verify",
             sql="assistance_category = '无巩固衔接任务' or resident_team <> '无'"),
    ),
)
