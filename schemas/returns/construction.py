"""表9 示范创建: one row per county."""
from ..core import Field, Return

RETURN = Return(
    return_id="construction", number=9, title="示范创建", grain="county",
    fields=(
        Field("demo_county", "乡村振兴示范县", "bool"),
        Field("demo_towns", "示范镇(个)", "count"),
        Field("demo_villages", "示范村(个)", "count"),
        Field("wellness_villages", "康养乡村(个)", "count"),
        Field("tourism_villages", "旅游乡村(个)", "count"),
        Field("livable_villages", "宜居乡村(个)", "count"),
        Field("consolidation_projects", "巩固衔接项目(个)", "count"),
    ),
)
