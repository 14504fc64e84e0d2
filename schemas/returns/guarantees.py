"""表2 三保障: one row per county."""
from ..checks import passes
from ..core import HARD, Field, Return, Rule

RETURN = Return(
    return_id="guarantees", number=2, title="三保障", grain="county",
    fields=(
        Field("student_aid_person_times", "资助农村困难学生人次", "count", unit="人次"),
        Field("compulsory_dropouts", "义务教育阶段失学辍学人数", "count", unit="人", soft_max=0),
        Field("insurance_base_persons", "应参保人数", "count", unit="人"),
        Field("insured_persons", "已参保人数", "count", unit="人"),
        Field("inpatient_cost_10k_yuan", "住院总费用(万元)", "amount"),
        Field("inpatient_reimbursed_10k_yuan", "住院报销金额(万元)", "amount"),
        Field("dilapidated_house_renovations", "危房改造户数", "count", unit="户"),
        Field("model_houses", "宜居示范农房户数", "count", unit="户"),
        Field("seismic_retrofits", "农房抗震改造户数", "count", unit="户"),
    ),
    rules=(
        Rule("guarantees.insured_persons.above_base", HARD, ("insured_persons",),
             lambda df, ctx: passes(df.insured_persons <= df.insurance_base_persons),
             "已参保人数大于应参保人数", "insured persons exceed the persons who should be insured",
             sql="insured_persons <= insurance_base_persons"),
        Rule("guarantees.inpatient_reimbursed.above_cost", HARD, ("inpatient_reimbursed_10k_yuan",),
             lambda df, ctx: passes(df.inpatient_reimbursed_10k_yuan <= df.inpatient_cost_10k_yuan),
             "住院报销金额大于住院总费用", "inpatient reimbursement exceeds the total inpatient cost",
             sql="inpatient_reimbursed_10k_yuan <= inpatient_cost_10k_yuan"),
    ),
)
