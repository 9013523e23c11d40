"""Regenerate sample_data/renewals.xlsx (a renewals list as ops staff send it).

Run: .venv/bin/python sample_data/make_renewals.py
"""

from openpyxl import Workbook

wb = Workbook()
ws = wb.active
ws.title = "Renewals"
ws.append(["Renewals due in December"])
ws.append([])
ws.append(["Mobile", "Given name", "Surname", "Prio", "Max attempts", "Comment", "Campaign"])
rows = [
    ("+1 (312) 555-0150", "Uma", "Khan", 1, 3, "renews 12/01"),
    ("312-555-0151", "Vic", "Lane", 2, 3, ""),
    ("3125550152", "Wes", "Moore", 2, 5, ""),
    ("+1 312 555 0153", "Xia", "Ng", 3, 3, "prefers mornings"),
    ("312.555.0154", "Yan", "Oz", 3, 3, ""),
    ("312-555-0157", '=HYPERLINK("http://example.invalid","click")', "Pike", 4, 3, "formula text"),
]
for r in rows:
    ws.append([*r, "Renewals"])
    # Stored as text, as a CRM export would: a formula-looking name must stay inert.
    ws.cell(row=ws.max_row, column=2).data_type = "s"
# A numeric cell, as Excel stores a phone number typed without formatting:
ws.append([3125550155, "Abe", "Quill", 4, 3, "numeric cell", "Renewals"])
# A numeric cell shown in scientific notation: Excel damage, must be rejected.
ws.append([312555015600, "Bea", "Ruiz", 4, 3, "scientific format cell", "Renewals"])
ws.cell(row=ws.max_row, column=1).number_format = "0.00E+00"
wb.save("sample_data/renewals.xlsx")
