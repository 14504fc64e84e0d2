"""表4 特色产业: one row per county."""
from ..core import Field, Return

RETURN = Return(
    return_id="industry", number=4, title="特色产业", grain="county",
    fields=(
        Field("fungus_bags_10k", "食用菌规模(万袋)", "amount"),
        Field("agri_parks", "农业产业园区数", "count", unit="个"),
        Field("leading_enterprises", "农业龙头企业数", "count", unit="家"),
        Field("industry_beneficiaries", "带动增收群众人数", "count", unit="人"),
        Field("ecommerce_demo_county", "国家电子商务进农村综合示范县", "bool"),
    ),
)
