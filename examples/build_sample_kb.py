#!/usr/bin/env python3
"""Regenerate the binary and non-UTF-8 files of the Steward sample knowledge base.

The sample KB lives in ``examples/sample-kb/``. Most of it is plain text
(.md, .html, .txt) checked in as-is. This script writes the files that cannot
be hand-edited comfortably, always from text held in this file and always
byte-for-byte the same on every run:

* ``.docx`` documents (python-docx)
* ``.pdf`` documents with real text (fpdf2, core Helvetica font)
* ``legal/scanned-contract.pdf``   - planted bad file: PDF header + garbage
* ``engineering/diagram.md``       - planted bad file: binary bytes named .md
* ``it/notes.txt``                 - planted bad file: empty
* ``hr/relocation-guide-munich.txt`` - planted legacy encoding (cp1252)

Usage::

    .venv/bin/python examples/build_sample_kb.py [--out DIR]

``document_text(relpath)`` returns the plain text written into a generated
document, so tests can check truth spans against .docx/.pdf content.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import random
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "sample-kb"

SUPPORT_FOOTER = [
    "\u00a9 2026 Brightwater Robotics. Internal use only.",
    "Questions? Ask in #support-ops.",
]

# ---------------------------------------------------------------------------
# Document content.
# Block kinds: ("h1", text) ("h2", text) ("meta", text) ("p", text)
#              ("ul", [items]) ("table", [[header cells], [row cells], ...])
#              ("footer", [lines])   -- plain closing lines, one per paragraph
# Each document also carries metadata: author, title, updated (YYYY-MM-DD).
# ---------------------------------------------------------------------------

DOCS: dict[str, dict] = {}

DOCS["hr/benefits-overview.docx"] = {
    "title": "Benefits Overview 2026 (US)",
    "author": "maria.lopez@brightwater.example",
    "updated": "2026-09-28",
    "blocks": [
        ("h1", "Benefits Overview 2026 (US)"),
        ("meta", "Owner: People Operations (maria.lopez@brightwater.example). Last updated 2026-09-28. "
                 "Applies to US employees working 30 or more hours per week."),
        ("h2", "Health insurance"),
        ("p", "You choose one of three medical plans in Workday. Coverage starts on your first day of work. "
              "Brightwater pays most of the monthly premium:"),
        ("table", [
            ["Plan", "Employee premium paid by Brightwater", "Dependent premium paid by Brightwater"],
            ["Blue Harbor PPO", "90%", "75%"],
            ["Blue Harbor HDHP with HSA", "100%", "80%"],
            ["Cascade HMO (Oregon and Washington only)", "90%", "75%"],
        ]),
        ("ul", [
            "Dental and vision: Brightwater pays 100% of the employee premium and 75% for dependents.",
            "Health savings account (HDHP only): Brightwater contributes $1,000 per year for individual "
            "coverage or $2,000 per year for family coverage, spread across paychecks.",
        ]),
        ("h2", "Retirement"),
        ("ul", [
            "401(k) plan administered by Fidelity.",
            "Brightwater matches 100% of the first 4% of salary you contribute.",
            "Matching contributions vest immediately.",
            "New employees are enrolled automatically at 3% after 30 days unless they opt out.",
        ]),
        ("h2", "Insurance"),
        ("ul", [
            "Life insurance of 2x annual base salary, up to $750,000, paid by Brightwater.",
            "Short-term disability: 60% of base salary for up to 12 weeks.",
            "Long-term disability: 60% of base salary, up to $15,000 per month.",
        ]),
        ("h2", "Wellbeing and learning"),
        ("ul", [
            "Learning budget: $1,500 per calendar year for courses, books and conferences, claimed in Expensify.",
            "Wellness stipend: $60 per month, paid through payroll (taxable).",
            "Employee assistance program: 6 free counseling sessions per topic per year.",
            "Parking at Portland HQ is free; transit passes can be bought pre-tax.",
        ]),
        ("h2", "Enrollment"),
        ("ul", [
            "New hires must enroll in Workday within 30 days of their start date.",
            "Open enrollment for 2027 runs from November 2 to November 13, 2026. Changes take effect on January 1, 2027.",
            "After a qualifying life event (marriage, birth, adoption, loss of other coverage) you have 30 days to update your choices.",
        ]),
        ("h2", "Munich employees"),
        ("p", "Employees of Brightwater Robotics GmbH are covered by German statutory health insurance. "
              "The company pension (bAV) receives an employer top-up of 20% of the amount you convert. "
              "Details are in the German benefits summary from People Operations Munich."),
    ],
}

DOCS["finance/corporate-card.docx"] = {
    "title": "Corporate Card Guide",
    "author": "david.chen@brightwater.example",
    "updated": "2026-03-30",
    "blocks": [
        ("h1", "Corporate Card Guide"),
        ("meta", "Owner: Finance (david.chen@brightwater.example). Last updated 2026-03-30."),
        ("h2", "Who gets a card"),
        ("p", "Brightwater issues American Express Corporate cards to employees who travel for work at least "
              "4 times a year or who manage recurring supplier spend. Your manager requests the card through "
              "the Finance request form; it arrives in about 7 business days. The company pays the statement "
              "directly, so you never pay the card yourself."),
        ("h2", "Limits"),
        ("table", [
            ["Card type", "Monthly limit"],
            ["Standard", "$5,000"],
            ["Travel-heavy roles (sales, field service)", "$15,000"],
        ]),
        ("p", "The single-transaction limit is $2,500. Purchases above that need a purchase order, as set out "
              "in Purchasing and Approval Limits. Temporary limit increases can be requested from Finance "
              "for up to 60 days."),
        ("h2", "What the card is for"),
        ("ul", [
            "Business travel booked through Navan, and costs during the trip.",
            "Software under $500 per year that IT has approved.",
            "Conference and training fees.",
            "Small supplies for customer installations.",
        ]),
        ("h2", "What the card is not for"),
        ("ul", [
            "Personal purchases, even if you intend to pay them back.",
            "Cash withdrawals and ATM use.",
            "Gift cards or prepaid cards.",
            "Alcohol, except as part of approved client entertainment.",
        ]),
        ("h2", "Receipts"),
        ("p", "Card transactions flow into Expensify every day. Attach a receipt to each transaction within "
              "30 days. If a receipt for an amount of $25 or more is lost, file a missing-receipt "
              "declaration in Expensify; more than 2 declarations in a year need Controller review."),
        ("h2", "Lost or stolen cards"),
        ("p", "Call the number on the back of the card immediately, then email cards@brightwater.example "
              "within 24 hours so Finance can block it in Expensify as well."),
        ("h2", "Consequences of misuse"),
        ("ul", [
            "3 or more late receipt reports in 12 months: the card is suspended for 90 days.",
            "Personal use: repay within 10 days; Finance may cancel the card.",
            "Cards are cancelled on your last working day. Submit all open receipts before you leave.",
        ]),
    ],
}

DOCS["legal/contract-review-process.docx"] = {
    "title": "Contract Review Process",
    "author": "rachel.goldberg@brightwater.example",
    "updated": "2026-05-12",
    "blocks": [
        ("h1", "Contract Review Process"),
        ("meta", "Owner: Legal (rachel.goldberg@brightwater.example). Last updated 2026-05-12."),
        ("h2", "When Legal must review a contract"),
        ("ul", [
            "Any customer contract on non-standard terms, whatever its value.",
            "Any deal with a total contract value above $100,000.",
            "Any supplier contract under which the supplier will process personal data.",
            "Any NDA on the other party's paper.",
        ]),
        ("p", "Unchanged Brightwater templates below $100,000 (MSA v4.2, Mutual NDA v2.1, DPA v3.0) can be "
              "sent without Legal review."),
        ("h2", "How to request a review"),
        ("p", "Submit a request in Ironclad with the draft contract, the Salesforce opportunity link, the total "
              "deal value and the date you need it back. Redlines from the customer must be uploaded as a "
              "Word file, not a PDF."),
        ("h2", "Turnaround times"),
        ("table", [
            ["Request type", "Target turnaround"],
            ["Standard customer contract", "5 business days"],
            ["Expedited (quarter end, approved by the VP of Sales)", "2 business days"],
            ["Supplier contract", "7 business days"],
            ["NDA on the other party's paper", "3 business days"],
        ]),
        ("h2", "Standard positions"),
        ("ul", [
            "Limitation of liability: fees paid in the 12 months before the claim. Up to 24 months needs General Counsel approval.",
            "No uncapped indemnities, except for intellectual-property infringement.",
            "Payment terms: net 30. Up to net 60 with Finance approval.",
            "Hardware warranty: 24 months. Longer terms need approval from the VP of Customer Operations.",
            "Governing law: Oregon for US customers; Germany for customers contracting with Brightwater Robotics GmbH.",
        ]),
        ("h2", "Signature authority"),
        ("table", [
            ["Total contract value", "Who signs"],
            ["Up to $500,000", "VP of Sales"],
            ["Up to $2,000,000", "CFO"],
            ["Above $2,000,000", "CEO"],
        ]),
        ("p", "All contracts are signed through DocuSign. The signed copy is stored automatically in Ironclad "
              "and kept for 10 years after the contract expires."),
    ],
}

DOCS["sales/contracts/msa-key-terms.docx"] = {
    "title": "MSA v4.2 Key Terms Summary",
    "author": "marcus.reed@brightwater.example",
    "updated": "2026-01-20",
    "blocks": [
        ("h1", "Master Services Agreement v4.2: Key Terms Summary"),
        ("meta", "Owner: Sales Operations (marcus.reed@brightwater.example), reviewed by Legal. "
                 "Last updated 2026-01-20. MSA v4.2 has been the standard template since 2026-01-15."),
        ("p", "This summary helps account executives explain our standard contract to customers. It is not "
              "the contract: if the summary and the MSA disagree, the MSA wins. Any change to these terms "
              "goes through the Contract Review Process."),
        ("h2", "Contract structure"),
        ("p", "MSA plus one or more Order Forms, the Service Level exhibit and the Data Processing Agreement (DPA v3.0)."),
        ("h2", "Term and renewal"),
        ("ul", [
            "Initial term: 3 years from the effective date of the first Order Form.",
            "Renews automatically for 1-year periods unless either party gives 90 days' notice before the end of the term.",
            "Fleet Manager subscriptions cannot be cancelled mid-term.",
        ]),
        ("h2", "Payment"),
        ("ul", [
            "Invoices are payable net 30 from the invoice date.",
            "Late payments accrue interest of 1.5% per month.",
            "Prices are fixed for the initial term; renewal prices may rise by at most 5% per year.",
        ]),
        ("h2", "Warranty and service levels"),
        ("ul", [
            "Robots: 24 months parts and labor from commissioning; batteries 18 months or 2,000 charge cycles.",
            "Care+ extends hardware coverage up to 60 months in total.",
            "Fleet Manager: 99.9% monthly uptime, with service credits of up to 50% of the monthly fee as the sole remedy.",
            "Support response times follow the SLA exhibit (P1: 1 hour, 24/7).",
        ]),
        ("h2", "Liability"),
        ("p", "Each party's liability is capped at the fees paid in the 12 months before the claim. Neither party "
              "is liable for indirect or consequential damages. Breach of confidentiality, the IP indemnity and "
              "gross negligence are excluded from the cap."),
        ("h2", "Termination"),
        ("p", "Either party may terminate for material breach that is not cured within 30 days of written notice. "
              "There is no termination for convenience during the initial term."),
        ("h2", "Data"),
        ("p", "The customer owns its operational data. Brightwater may use anonymized telemetry to improve its "
              "products. Raw telemetry is kept for 24 months."),
        ("h2", "Governing law"),
        ("p", "Oregon law and the courts of Multnomah County for US customers; German law and the courts of "
              "Munich for customers contracting with Brightwater Robotics GmbH."),
    ],
}

DOCS["finance/fiscal-calendar-2026.pdf"] = {
    "title": "Fiscal Calendar 2026",
    "author": "david.chen@brightwater.example",
    "updated": "2025-12-15",
    "blocks": [
        ("h1", "Fiscal Calendar 2026"),
        ("meta", "Owner: Finance (david.chen@brightwater.example). Last updated 2025-12-15."),
        ("h2", "Fiscal year"),
        ("p", "Brightwater's fiscal year follows the calendar year. FY2026 runs from January 1 to December 31, 2026. "
              "Q1 is January to March, Q2 April to June, Q3 July to September and Q4 October to December."),
        ("h2", "Close schedule"),
        ("p", "Month-end books close on the 5th business day of the following month. Quarter-end books close on "
              "the 8th business day."),
        ("table", [
            ["Period", "Target close date"],
            ["Q1 2026", "April 10, 2026"],
            ["Q2 2026", "July 13, 2026"],
            ["Q3 2026", "October 12, 2026"],
            ["Q4 and full year 2026", "January 20, 2027 (extended year-end close)"],
        ]),
        ("h2", "Year-end deadlines"),
        ("ul", [
            "Purchase orders charged to the 2026 budget must be raised by December 11, 2026.",
            "Expense reports for 2026 must be submitted in Expensify by December 18, 2026.",
            "Supplier invoices for 2026 work must reach Accounts Payable by January 8, 2027.",
        ]),
        ("h2", "FY2027 budget cycle"),
        ("table", [
            ["Milestone", "Date"],
            ["Budget kickoff", "September 14, 2026"],
            ["Department drafts due", "October 16, 2026"],
            ["Executive review", "November 2 to 13, 2026"],
            ["Board approval", "December 9, 2026"],
        ]),
        ("h2", "Payroll"),
        ("p", "US payroll runs every other Friday. The first payday of 2026 is Friday, January 9, and there are "
              "26 paydays in the year. The payday that falls on Friday, December 25 is moved to Thursday, "
              "December 24, 2026."),
        ("h2", "Audit"),
        ("p", "External audit fieldwork for FY2026 takes place from February 8 to February 26, 2027. Audited "
              "financial statements go to the board by March 31, 2027."),
    ],
}

DOCS["engineering/robots/bw-200-datasheet.pdf"] = {
    "title": "BW-200 Datasheet",
    "author": "kenji.watanabe@brightwater.example",
    "updated": "2026-05-26",
    "blocks": [
        ("h1", "BW-200 Autonomous Mobile Robot - Datasheet"),
        ("meta", "Document BW-DS-200, revision F. Owner: Hardware Engineering (kenji.watanabe@brightwater.example). "
                 "Last updated 2026-05-26."),
        ("p", "The BW-200 is a compact autonomous mobile robot for tote and cart transport in warehouses, "
              "e-commerce fulfillment centres and light manufacturing. It navigates without floor markers and "
              "works alongside people and forklifts."),
        ("h2", "Specifications"),
        ("table", [
            ["Specification", "Value"],
            ["Rated payload", "200 kg"],
            ["Robot weight", "145 kg"],
            ["Dimensions (L x W x H)", "980 x 680 x 320 mm"],
            ["Top speed", "1.8 m/s"],
            ["Battery", "48 V LiFePO4, 2.4 kWh"],
            ["Runtime", "Up to 9 hours at a typical duty cycle"],
            ["Charging", "0 to 80% in 55 minutes on the BW-DOCK-2"],
            ["Operating temperature", "0 \u00b0C to 40 \u00b0C"],
            ["Ingress protection", "IP54"],
            ["Maximum floor gradient", "3%"],
            ["Navigation", "2 safety lidars, 2 depth cameras, natural-feature SLAM"],
            ["Connectivity", "Wi-Fi 6 (802.11ax)"],
            ["Current firmware", "3.8.2"],
        ]),
        ("h2", "Top modules"),
        ("ul", [
            "Conveyor top (BW-200-CT) for automatic tote transfer.",
            "Tow hitch for carts up to 500 kg on flat floors.",
            "Shelf lifter for goods-to-person picking.",
        ]),
        ("h2", "Safety"),
        ("ul", [
            "Designed to meet ISO 3691-4 for driverless industrial trucks.",
            "Emergency stop buttons on both sides.",
            "Audible and visual warnings; speed limited to 0.3 m/s when people are detected nearby.",
        ]),
        ("h2", "Software and warranty"),
        ("p", "Requires Tidewater Fleet Manager 6.5 or later; 7.0 or later is recommended. Standard warranty is "
              "24 months parts and labor; the battery is covered for 18 months or 2,000 charge cycles. "
              "Part number: BW-200-STD."),
    ],
}

DOCS["support/warranty-policy.pdf"] = {
    "title": "Robot Hardware Warranty Policy",
    "author": "tom.okafor@brightwater.example",
    "updated": "2026-04-14",
    "blocks": [
        ("h1", "Robot Hardware Warranty Policy"),
        ("meta", "Owner: Support Operations (tom.okafor@brightwater.example). Last updated 2026-04-14."),
        ("h2", "Standard warranty"),
        ("p", "BW-200 and BW-350 robots and BW-DOCK-2 charging docks are covered for 24 months of parts and labor "
              "from the commissioning date, or 27 months from shipment, whichever ends first. Brightwater "
              "repairs or replaces defective parts at its choice."),
        ("h2", "Batteries"),
        ("p", "Batteries are covered for 18 months or 2,000 full charge cycles, whichever comes first. A battery "
              "counts as defective if its capacity drops below 70% of rated capacity within that period."),
        ("h2", "Care+ extended warranty"),
        ("ul", [
            "Extends hardware coverage in 12-month steps, up to 60 months in total from commissioning.",
            "Costs 12% of the robot list price per year.",
            "Includes advance replacement: parts ship the next business day after the RMA is issued.",
            "Includes a next-business-day on-site technician in covered metro areas.",
            "Must be purchased before the standard warranty ends.",
        ]),
        ("h2", "What is not covered"),
        ("ul", [
            "Damage from accidents, misuse, or collisions caused by unmapped layout changes.",
            "Modifications not approved by Brightwater, or non-Brightwater parts.",
            "Operation outside the specified temperature range (BW-200: 0 to 40 \u00b0C; BW-350 with firmware 5.0 "
            "or later: -10 to 45 \u00b0C).",
            "Consumables: wheel treads, bumper pads and lidar window covers.",
            "Cosmetic wear that does not affect operation.",
        ]),
        ("h2", "Making a claim"),
        ("p", "All warranty claims go through the RMA process. Run remote diagnostics first and record the robot "
              "serial number and error codes in the Zendesk ticket."),
        ("h2", "Repaired and replacement parts"),
        ("p", "Repaired or replacement parts are covered for 90 days or for the rest of the original warranty, "
              "whichever is longer."),
        ("footer", SUPPORT_FOOTER),
    ],
}

DOCS["legal/privacy-notice.pdf"] = {
    "title": "Robot Data Privacy Notice",
    "author": "rachel.goldberg@brightwater.example",
    "updated": "2026-07-01",
    "blocks": [
        ("h1", "Robot Data Privacy Notice"),
        ("meta", "Brightwater Robotics, Inc. and Brightwater Robotics GmbH. Effective 2026-07-01. "
                 "Owner: Legal (rachel.goldberg@brightwater.example)."),
        ("p", "This notice explains what data our robots and Tidewater Fleet Manager collect at customer sites, "
              "why, and for how long. It is shared with customers during onboarding."),
        ("h2", "What the robots collect"),
        ("ul", [
            "Operational telemetry: position, speed, battery state, mission history and error logs.",
            "Site maps built by the robots.",
            "Depth camera images, which are processed on the robot and are not uploaded, except for "
            "10-second snippets around a safety event.",
        ]),
        ("p", "The robots do not perform facial recognition and do not identify individual people."),
        ("h2", "Why we use it"),
        ("p", "To run Fleet Manager, to provide support, to investigate safety events, and to improve our "
              "products using anonymized data."),
        ("h2", "How long we keep it"),
        ("ul", [
            "Raw telemetry: 24 months, then aggregated and anonymized.",
            "Safety event camera snippets: 30 days, unless needed for a safety investigation.",
            "Support tickets: 5 years after the ticket is closed.",
        ]),
        ("h2", "Where it is stored"),
        ("p", "Data for US customers is stored in AWS us-west-2 (Oregon). Data for EU customers is stored in "
              "AWS eu-central-1 (Frankfurt) and does not leave the EU."),
        ("h2", "Your rights"),
        ("p", "Customers and individuals can ask to access, correct or delete personal data by writing to "
              "privacy@brightwater.example. We answer valid requests within 30 days."),
        ("h2", "Security incidents"),
        ("p", "If a personal data breach affects your data, we notify you without undue delay and within "
              "72 hours of becoming aware of it."),
        ("h2", "Contact"),
        ("p", "Data Protection Officer, Brightwater Robotics GmbH, Leopoldstra\u00dfe 210, 80804 M\u00fcnchen, "
              "Germany. Email: privacy@brightwater.example."),
    ],
}

DOCS["sales/price-list-2026.pdf"] = {
    "title": "Price List 2026 (USD)",
    "author": "marcus.reed@brightwater.example",
    "updated": "2026-07-01",
    "blocks": [
        ("h1", "Price List 2026 (USD)"),
        ("meta", "Document SL-PL-2026-07. Effective July 1, 2026. Owner: Sales Operations (marcus.reed@brightwater.example)."),
        ("h2", "Robots"),
        ("table", [
            ["Part number", "Description", "List price"],
            ["BW-200-STD", "BW-200 robot, 200 kg payload", "$38,500"],
            ["BW-350-STD", "BW-350 robot, 350 kg payload", "$54,900"],
            ["BW-350-CS", "BW-350 cold-store kit", "$6,200"],
        ]),
        ("h2", "Charging and accessories"),
        ("table", [
            ["Part number", "Description", "List price"],
            ["BW-DOCK-2", "Charging dock (BW-200 and BW-350)", "$3,400"],
            ["BW-200-CT", "Conveyor top for BW-200", "$7,800"],
            ["BW-ESTOP-W", "Wireless emergency stop", "$650"],
            ["BW-200-BAT", "Spare battery pack, BW-200", "$4,200"],
            ["BW-350-BAT", "Spare battery pack, BW-350", "$5,900"],
            ["BW-LIDAR-WK", "Lidar window kit (set of 4)", "$120"],
        ]),
        ("h2", "Software"),
        ("table", [
            ["Part number", "Description", "List price"],
            ["TFM-SUB", "Tidewater Fleet Manager, Standard", "$95 per robot per month, billed annually"],
            ["TFM-ENT", "Tidewater Fleet Manager, Enterprise (higher API limits, named TAM)", "$140 per robot per month, billed annually"],
        ]),
        ("h2", "Services and warranty"),
        ("table", [
            ["Part number", "Description", "List price"],
            ["SVC-SURVEY", "Site survey (credited if an order follows within 90 days)", "$2,500"],
            ["SVC-COMM", "Site commissioning", "$4,800 per site plus $650 per robot"],
            ["SVC-TRAIN", "Operator training, 1 day, up to 12 people", "$1,900"],
            ["CARE-PLUS", "Care+ extended warranty", "12% of robot list price per year"],
        ]),
        ("h2", "Terms"),
        ("ul", [
            "Prices exclude taxes and shipping.",
            "Quotes are valid for 30 days.",
            "Payment terms: net 30 from the invoice date.",
            "Volume discounts and approvals: see the Pricing and Discount Guide.",
        ]),
    ],
}

# Legacy-encoded text file (cp1252, deliberately NOT valid UTF-8).
RELOCATION_GUIDE_CP1252 = """\
RELOCATION GUIDE \u2013 MUNICH OFFICE
==============================

Owner: Jos\u00e9 \u00c1lvarez, People Operations Munich (jose.alvarez@brightwater.example)
Updated: 2026-03-09
Office: Brightwater Robotics GmbH, Leopoldstra\u00dfe 210, 80804 M\u00fcnchen


WHO THIS GUIDE IS FOR
---------------------

Employees moving from the United States to the Munich office for a
permanent role of at least 12 months. Short assignments (under 6
months) follow the travel policy instead.


RELOCATION PACKAGE
------------------

  * Relocation allowance: \u20ac8,500 lump sum (gross), paid with the
    first Munich salary.
  * Economy flights for you, your partner and your children.
  * Temporary furnished housing for up to 60 days.
  * Shipping of household goods up to 20 m\u00b3 through our moving
    partner Umz\u00fcge Br\u00e4uer GmbH.
  * 2 days of paid leave for the move itself.

If you leave Brightwater within 12 months of your start date in
Munich you repay 100% of the allowance; within 24 months, 50%.


VISA AND WORK PERMIT
--------------------

Most US employees qualify for the EU Blue Card. Our immigration
lawyers (Kanzlei Sch\u00e4fer & J\u00f6nsson) prepare the application; it
usually takes 6 to 10 weeks. Do not book flights before the visa
appointment is confirmed.


FIRST WEEKS IN MUNICH
---------------------

  1. Register your address (Anmeldung) at the B\u00fcrgerb\u00fcro within
     14 days of moving in. You need the landlord's confirmation
     (Wohnungsgeberbest\u00e4tigung).
  2. Your tax ID (Steuer-ID) arrives by post about 2 weeks later.
     Send it to payroll straight away.
  3. Open a German bank account for your salary.
  4. Choose a statutory health insurer before your first payday.

Annual leave in Munich is 30 days, as stated in your contract.


CONTACTS
--------

  Jos\u00e9 \u00c1lvarez    People Operations, visas and allowance
  J\u00fcrgen M\u00fcller    Facilities, desks and office access badges
  Zo\u00eb Brandt       Payroll Munich, tax ID and bank details

Gr\u00fc\u00df Gott and welcome to M\u00fcnchen!
"""

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

FIXED_ZIP_TIME = (2026, 1, 1, 0, 0, 0)


def document_text(relpath: str) -> str:
    """Plain text of a generated document, one block or line per line."""
    if relpath == "hr/relocation-guide-munich.txt":
        return RELOCATION_GUIDE_CP1252
    doc = DOCS[relpath]
    lines: list[str] = []
    for kind, content in doc["blocks"]:
        if kind in ("h1", "h2", "meta", "p"):
            lines.append(content)
        elif kind in ("ul", "footer"):
            lines.extend(content)
        elif kind == "table":
            lines.extend(" | ".join(row) for row in content)
    return "\n".join(lines) + "\n"


def _date(s: str) -> dt.datetime:
    return dt.datetime.strptime(s, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)


def _normalize_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed timestamps so the output is reproducible."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            dst.writestr(zi, src.read(info.filename))
    return out.getvalue()


def build_docx(doc: dict) -> bytes:
    from docx import Document
    from docx.shared import Pt

    d = Document()
    cp = d.core_properties
    cp.title = doc["title"]
    cp.author = doc["author"]
    cp.last_modified_by = doc["author"]
    cp.created = _date(doc["updated"]).replace(tzinfo=None)
    cp.modified = _date(doc["updated"]).replace(tzinfo=None)
    cp.revision = 1
    cp.comments = "Brightwater Robotics sample knowledge base (fictional)"
    for kind, content in doc["blocks"]:
        if kind == "h1":
            d.add_heading(content, level=1)
        elif kind == "h2":
            d.add_heading(content, level=2)
        elif kind == "meta":
            p = d.add_paragraph()
            run = p.add_run(content)
            run.italic = True
            run.font.size = Pt(9)
        elif kind == "p":
            d.add_paragraph(content)
        elif kind in ("ul",):
            for item in content:
                d.add_paragraph(item, style="List Bullet")
        elif kind == "footer":
            for line in content:
                d.add_paragraph(line)
        elif kind == "table":
            t = d.add_table(rows=len(content), cols=len(content[0]))
            t.style = "Table Grid"
            for r, row in enumerate(content):
                for c, cell in enumerate(row):
                    t.cell(r, c).text = cell
                    if r == 0:
                        for run in t.cell(r, c).paragraphs[0].runs:
                            run.bold = True
        else:
            raise ValueError(kind)
    buf = io.BytesIO()
    d.save(buf)
    return _normalize_zip(buf.getvalue())


_PDF_REPLACEMENTS = {
    "\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'",
    "\u201c": '"', "\u201d": '"', "\u2026": "...", "\u20ac": "EUR ",
    "\u2212": "-", "\u00a0": " ",
}


def pdf_safe(text: str) -> str:
    """Map text to Latin-1 for fpdf2 core fonts; drop anything else."""
    for a, b in _PDF_REPLACEMENTS.items():
        text = text.replace(a, b)
    return text.encode("latin-1", "ignore").decode("latin-1")


def build_pdf(doc: dict) -> bytes:
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    pdf = FPDF(format="A4")
    pdf.set_creation_date(_date(doc["updated"]))
    pdf.set_title(pdf_safe(doc["title"]))
    pdf.set_author(pdf_safe(doc["author"]))
    pdf.set_subject("Brightwater Robotics sample knowledge base (fictional)")
    pdf.set_creator("examples/build_sample_kb.py")
    pdf.set_margins(20, 20, 20)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()
    nl = dict(new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for kind, content in doc["blocks"]:
        if kind == "h1":
            pdf.set_font("helvetica", "B", 18)
            pdf.multi_cell(0, 9, pdf_safe(content), **nl)
            pdf.ln(2)
        elif kind == "h2":
            pdf.ln(3)
            pdf.set_font("helvetica", "B", 13)
            pdf.multi_cell(0, 7, pdf_safe(content), **nl)
            pdf.ln(1)
        elif kind == "meta":
            pdf.set_font("helvetica", "I", 9)
            pdf.multi_cell(0, 5, pdf_safe(content), **nl)
            pdf.ln(2)
        elif kind == "p":
            pdf.set_font("helvetica", "", 11)
            pdf.multi_cell(0, 6, pdf_safe(content), **nl)
            pdf.ln(1)
        elif kind == "ul":
            pdf.set_font("helvetica", "", 11)
            for item in content:
                pdf.multi_cell(0, 6, pdf_safe("- " + item), **nl)
            pdf.ln(1)
        elif kind == "footer":
            pdf.ln(6)
            pdf.set_font("helvetica", "", 8)
            for line in content:
                pdf.multi_cell(0, 5, pdf_safe(line), **nl)
        elif kind == "table":
            pdf.set_font("helvetica", "", 10)
            with pdf.table(line_height=6, text_align="LEFT") as table:
                for row in content:
                    r = table.row()
                    for cell in row:
                        r.cell(pdf_safe(cell))
            pdf.ln(2)
        else:
            raise ValueError(kind)
    return bytes(pdf.output())


def corrupt_pdf() -> bytes:
    """A 'scanned contract' whose body is garbage: header only, no objects/xref/EOF."""
    rng = random.Random(20260311)
    head = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    return head + bytes(rng.randrange(256) for _ in range(6000))


def binary_markdown() -> bytes:
    """An image export saved with a .md name: PNG-like bytes with NULs."""
    rng = random.Random(424242)
    head = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x03\x20\x00\x00\x02\x58\x08\x06\x00\x00\x00"
    body = bytearray(rng.randrange(256) for _ in range(4000))
    for i in range(0, len(body), 37):  # make sure NULs are plentiful
        body[i] = 0
    return head + bytes(body)


def build_all(out: Path) -> list[tuple[str, int]]:
    written: list[tuple[str, int]] = []

    def write(rel: str, data: bytes) -> None:
        p = out / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        written.append((rel, len(data)))

    for rel, doc in DOCS.items():
        if rel.endswith(".docx"):
            write(rel, build_docx(doc))
        elif rel.endswith(".pdf"):
            write(rel, build_pdf(doc))
        else:
            raise ValueError(rel)
    write("legal/scanned-contract.pdf", corrupt_pdf())
    write("engineering/diagram.md", binary_markdown())
    write("it/notes.txt", b"")
    write("hr/relocation-guide-munich.txt", RELOCATION_GUIDE_CP1252.encode("cp1252"))
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="sample-kb directory (default: %(default)s)")
    args = ap.parse_args()
    for rel, size in build_all(args.out):
        print(f"{size:>8}  {rel}")


if __name__ == "__main__":
    main()
