#!/usr/bin/env python3
"""Synthetic UK shared-care-record data for search benchmarks and tests, and a loader for it.

  generate_records.py generate --patients N --out DIR [--seed S] [--jobs J]
      Writes DIR/<ResourceType>.ndjson: hospital trusts, GP practices and their GPs, shared between
      patients, then per patient a Patient and on average 5 Encounters, 5 Conditions, 5
      MedicationStatements, 2 AllergyIntolerances and 31 Observations (~50 resources per patient).
      The same seed gives byte-identical files, whatever --jobs.

  generate_records.py load --dir DIR --base http://localhost:8080/fhir [--workers 8]
      PUTs every resource to [base]/[type]/[id], referenced types first, over keep-alive connections.

Standard library only. Everything is fictitious: NHS numbers are in the 999 test range, telephone numbers
in Ofcom's drama ranges, and the dm+d codes look real but are not checked against a dm+d release.
"""
import argparse
import functools
import http.client
import itertools
import json
import multiprocessing
import os
import queue
import random
import sys
import threading
import time
import uuid
from contextlib import nullcontext
from datetime import date, timedelta
from urllib.parse import urlsplit

SCT, LOINC, UCUM, DMD = "http://snomed.info/sct", "http://loinc.org", "http://unitsofmeasure.org", "https://dmd.nhs.uk"
NHS_NUMBER, ODS = "https://fhir.nhs.uk/Id/nhs-number", "https://fhir.nhs.uk/Id/ods-organization-code"
SDS, ORG_ROLE = "https://fhir.nhs.uk/Id/sds-user-id", "https://fhir.nhs.uk/CodeSystem/organisation-role"
HL7 = "http://terminology.hl7.org/CodeSystem/"
UK_CORE = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-"
UK_CORE_NHS_VERIFIED = {
    "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus",
    "valueCodeableConcept": {"coding": [{
        "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland",
        "code": "01", "display": "Number present and verified"}]}}

# ---------------------------------------------------------------------------------------------------------------------
# Reference tables. Weights are rough frequencies, so that searches meet the skew of real data.

SURNAMES = [("Smith", 55), ("Jones", 40), ("Williams", 30), ("Taylor", 28), ("Brown", 27), ("Davies", 24),
            ("Evans", 20), ("Wilson", 19), ("Thomas", 18), ("Johnson", 17), ("Roberts", 17), ("Robinson", 15),
            ("Thompson", 15), ("Wright", 15), ("Walker", 14), ("White", 14), ("Edwards", 13), ("Hughes", 13),
            ("Green", 13), ("Hall", 13), ("Lewis", 12), ("Harris", 12), ("Clarke", 12), ("Patel", 12),
            ("Jackson", 11), ("Wood", 11), ("Turner", 10), ("Martin", 10), ("Cooper", 10), ("Hill", 10),
            ("Ward", 9), ("Morris", 9), ("Moore", 9), ("Clark", 9), ("Lee", 9), ("King", 9), ("Baker", 9),
            ("Harrison", 8), ("Morgan", 8), ("Allen", 8), ("James", 8), ("Scott", 8), ("Phillips", 7),
            ("Watson", 7), ("Davis", 7), ("Parker", 7), ("Price", 7), ("Bennett", 7), ("Young", 7), ("Griffiths", 6),
            ("Mitchell", 6), ("Kelly", 6), ("Cook", 6), ("Carter", 6), ("Richardson", 6), ("Bailey", 6),
            ("Collins", 6), ("Bell", 6), ("Shaw", 6), ("Murphy", 5), ("Khan", 5), ("Ali", 5), ("Singh", 5),
            ("Begum", 4), ("Hussain", 4), ("O'Brien", 3), ("Nowak", 2), ("Okafor", 2)]
MALE_NAMES = ["Oliver", "George", "Harry", "Jack", "James", "William", "Thomas", "David", "John", "Michael", "Paul",
              "Mark", "Andrew", "Richard", "Peter", "Robert", "Daniel", "Christopher", "Stephen", "Matthew",
              "Mohammed", "Noah", "Leo", "Arthur", "Alfie", "Charlie", "Samuel", "Joseph"]
FEMALE_NAMES = ["Olivia", "Amelia", "Isla", "Ava", "Emily", "Sophie", "Margaret", "Susan", "Sarah", "Elizabeth",
                "Mary", "Patricia", "Helen", "Karen", "Julie", "Emma", "Jessica", "Charlotte", "Hannah", "Lucy",
                "Rebecca", "Megan", "Grace", "Freya", "Poppy", "Aisha", "Fatima", "Joan"]
STREETS = ["High", "Station", "Church", "Park", "Victoria", "Green", "Manor", "Queens", "Kings", "Mill", "Grange",
           "School", "Windsor", "York", "Albert", "New", "Springfield", "Chestnut", "Oak", "Canal"]
STREET_TYPES = ["Street", "Road", "Lane", "Avenue", "Close", "Drive", "Way", "Crescent", "Grove", "Terrace"]
PRACTICE_NAMES = ["Surgery", "Medical Centre", "Health Centre", "Medical Practice", "Family Practice"]
POSTCODE_UNIT_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # inward codes never use C, I, K, M, O or V
# (city, postcode area, its number of districts, ODS prefix of its GP practices, acute hospital)
CITIES = [("Leeds", "LS", 29, "B86", "Leeds General Infirmary"),
          ("Manchester", "M", 40, "P84", "Manchester Royal Infirmary"),
          ("Birmingham", "B", 45, "M85", "Queen Elizabeth Hospital"),
          ("Bristol", "BS", 40, "L81", "Bristol Royal Infirmary"),
          ("Sheffield", "S", 40, "C88", "Northern General Hospital"),
          ("Newcastle upon Tyne", "NE", 20, "A85", "Royal Victoria Infirmary"),
          ("Liverpool", "L", 38, "N82", "Royal Liverpool University Hospital"),
          ("Nottingham", "NG", 25, "C84", "Queen's Medical Centre"),
          ("Leicester", "LE", 19, "C82", "Leicester Royal Infirmary"),
          ("York", "YO", 32, "B82", "York Hospital")]

# key -> (weight, SNOMED CT code, display, medicines that treat it). Long-term conditions dominate GP records.
CONDITIONS = {
    "hypertension": (20, "38341003", "Hypertensive disorder", ["amlodipine", "ramipril", "bisoprolol"]),
    "t2dm": (9, "44054006", "Diabetes mellitus type 2", ["metformin", "gliclazide"]),
    "asthma": (12, "195967001", "Asthma", ["salbutamol", "beclometasone"]),
    "copd": (4, "13645005", "Chronic obstructive lung disease", ["salbutamol", "tiotropium"]),
    "af": (3, "49436004", "Atrial fibrillation", ["apixaban", "bisoprolol"]),
    "chd": (4, "53741008", "Coronary arteriosclerosis", ["atorvastatin", "aspirin"]),
    "ckd": (4, "709044004", "Chronic kidney disease", []),
    "depression": (11, "35489007", "Depressive disorder", ["sertraline", "citalopram"]),
    "anxiety": (7, "197480006", "Anxiety disorder", ["sertraline"]),
    "hypothyroidism": (4, "40930008", "Hypothyroidism", ["levothyroxine"]),
    "osteoarthritis": (9, "396275006", "Osteoarthritis", ["paracetamol", "naproxen"]),
    "hyperlipidaemia": (8, "55822004", "Hyperlipidemia", ["atorvastatin", "simvastatin"]),
    "gord": (6, "235595009", "Gastroesophageal reflux disease", ["omeprazole", "lansoprazole"]),
    "obesity": (6, "414916001", "Obesity", []),
    "migraine": (4, "37796009", "Migraine", ["sumatriptan"]),
    "uti": (5, "68566005", "Urinary tract infectious disease", ["nitrofurantoin"]),
    "pneumonia": (2, "233604007", "Pneumonia", ["amoxicillin"]),
    "sinusitis": (3, "36971009", "Sinusitis", ["amoxicillin"]),
}
ACUTE = {"uti", "pneumonia", "sinusitis", "amoxicillin", "nitrofurantoin"}  # resolved or completed within days

# key -> (dm+d VMP code, name, dose unit, dosage text, doses a day)
MEDICATIONS = {
    "amlodipine": ("319283006", "Amlodipine 5mg tablets", "tablet", "One tablet once a day", 1),
    "ramipril": ("318906001", "Ramipril 5mg capsules", "capsule", "One capsule once a day", 1),
    "bisoprolol": ("318590006", "Bisoprolol 5mg tablets", "tablet", "One tablet once a day", 1),
    "metformin": ("325278007", "Metformin 500mg modified-release tablets", "tablet", "One tablet twice a day", 2),
    "gliclazide": ("325238002", "Gliclazide 80mg tablets", "tablet", "One tablet twice a day with meals", 2),
    "salbutamol": ("320176004", "Salbutamol 100micrograms/dose inhaler CFC free", "puff", "Two puffs when required", 4),
    "beclometasone": ("320158002", "Beclometasone 100micrograms/dose inhaler CFC free", "puff", "Two puffs twice a day",
                      2),
    "tiotropium": ("407923005", "Tiotropium bromide 18microgram inhalation powder capsules", "capsule",
                   "Inhale the contents of one capsule once a day", 1),
    "apixaban": ("703907008", "Apixaban 5mg tablets", "tablet", "One tablet twice a day", 2),
    "atorvastatin": ("320029004", "Atorvastatin 20mg tablets", "tablet", "One tablet at night", 1),
    "simvastatin": ("320000009", "Simvastatin 40mg tablets", "tablet", "One tablet at night", 1),
    "aspirin": ("319775004", "Aspirin 75mg gastro-resistant tablets", "tablet", "One tablet once a day", 1),
    "sertraline": ("321208001", "Sertraline 50mg tablets", "tablet", "One tablet once a day", 1),
    "citalopram": ("321987003", "Citalopram 20mg tablets", "tablet", "One tablet once a day", 1),
    "levothyroxine": ("315236000", "Levothyroxine sodium 50microgram tablets", "tablet", "One tablet each morning", 1),
    "paracetamol": ("322236009", "Paracetamol 500mg tablets", "tablet", "Two tablets up to four times a day", 4),
    "naproxen": ("329693003", "Naproxen 500mg tablets", "tablet", "One tablet twice a day with food", 2),
    "omeprazole": ("317972000", "Omeprazole 20mg gastro-resistant capsules", "capsule", "One capsule once a day", 1),
    "lansoprazole": ("317325003", "Lansoprazole 30mg gastro-resistant capsules", "capsule", "One capsule once a day",
                     1),
    "sumatriptan": ("324788005", "Sumatriptan 50mg tablets", "tablet", "One tablet at onset of migraine", 1),
    "nitrofurantoin": ("323594008", "Nitrofurantoin 50mg capsules", "capsule", "One capsule four times a day", 4),
    "amoxicillin": ("39732411000001106", "Amoxicillin 500mg capsules", "capsule", "One capsule three times a day", 3),
}
DOSE_UNITS = {"tablet": "428673006", "capsule": "428641000", "puff": "415215001"}  # SNOMED CT unit of presentation
ROUTES = {"oral": {"coding": [{"system": SCT, "code": "26643006", "display": "Oral route"}]},
          "inhaled": {"coding": [{"system": SCT, "code": "18679011000001101", "display": "Inhalation"}]}}

# (weight, SNOMED CT code, display, type, category)
ALLERGIES = [(30, "91936005", "Allergy to penicillin", "allergy", "medication"),
             (8, "294505008", "Allergy to amoxicillin", "allergy", "medication"),
             (6, "293586001", "Allergy to aspirin", "allergy", "medication"),
             (5, "293619005", "Allergy to ibuprofen", "allergy", "medication"),
             (8, "91935009", "Allergy to peanut", "allergy", "food"),
             (5, "300913006", "Allergy to shellfish", "allergy", "food"),
             (4, "91930004", "Allergy to eggs", "allergy", "food"),
             (6, "782415009", "Intolerance to lactose", "intolerance", "food"),
             (4, "300916003", "Latex allergy", "allergy", "environment"),
             (12, "418689008", "Allergy to grass pollen", "allergy", "environment"),
             (8, "232350006", "House dust mite allergy", "allergy", "environment")]
REACTIONS = [("271807003", "Eruption of skin"), ("247472004", "Urticarial rash"), ("418290006", "Itching"),
             ("267036007", "Dyspnea"), ("422587007", "Nausea"), ("39579001", "Anaphylaxis")]

# (weight, v3 ActCode class, its display, SNOMED CT type, its display, length in minutes, held by "gp" or "trust")
ENCOUNTERS = [(45, "AMB", "ambulatory", "11429006", "Consultation", (10, 20), "gp"),
              (15, "AMB", "ambulatory", "185349003", "Encounter for check up", (20, 40), "gp"),
              (15, "VR", "virtual", "185317003", "Telephone encounter", (5, 15), "gp"),
              (4, "HH", "home health", "439708006", "Home visit", (20, 45), "gp"),
              (13, "EMER", "emergency", "4525004", "Emergency department patient visit", (90, 600), "trust"),
              (8, "IMP", "inpatient encounter", "32485007", "Hospital admission", (1440, 10080), "trust")]

# key -> (weight, category, SNOMED CT code and display, LOINC code and display, UCUM unit, decimals, reference
# range). The LOINC codes are the ones the search benchmarks query; values are in the units UK laboratories
# report (so HbA1c is IFCC mmol/mol although LOINC 4548-4 is the DCCT percentage).
OBSERVATIONS = {
    "weight": (5, "vital-signs", "27113001", "Body weight", "29463-7", "Body weight", "kg", 1, None),
    "heart_rate": (4, "vital-signs", "364075005", "Heart rate", "8867-4", "Heart rate", "/min", 0, None),
    "bp": (6, "vital-signs", "75367002", "Blood pressure", "85354-9", "Blood pressure panel with all children optional",
           "mm[Hg]", 0, None),
    "temperature": (2, "vital-signs", "276885007", "Core body temperature", "8310-5", "Body temperature", "Cel", 1,
                    None),
    "resp_rate": (2, "vital-signs", "86290005", "Respiratory rate", "9279-1", "Respiratory rate", "/min", 0, None),
    "bmi": (3, "vital-signs", "60621009", "Body mass index", "39156-5", "Body mass index (BMI) [Ratio]", "kg/m2", 1,
            None),
    "hba1c": (3, "laboratory", "1049301000000100", "HbA1c level (IFCC)", "4548-4",
              "Hemoglobin A1c/Hemoglobin.total in Blood", "mmol/mol", 0, (20, 41)),
    "haemoglobin": (2, "laboratory", "1022431000000105", "Haemoglobin estimation", "718-7",
                    "Hemoglobin [Mass/volume] in Blood", "g/L", 0, (120, 170)),
    "creatinine": (3, "laboratory", "1000731000000107", "Serum creatinine level", "2160-0",
                   "Creatinine [Mass/volume] in Serum or Plasma", "umol/L", 0, (59, 104)),
    "cholesterol": (2, "laboratory", "1005671000000105", "Serum cholesterol level", "2093-3",
                    "Cholesterol [Mass/volume] in Serum or Plasma", "mmol/L", 1, (None, 5.0)),
    "potassium": (2, "laboratory", "1000651000000109", "Serum potassium level", "2823-3",
                  "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 1, (3.5, 5.3)),
    "sodium": (2, "laboratory", "1000661000000107", "Serum sodium level", "2951-2",
               "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 0, (133, 146)),
}
BP_PARTS = [("72313002", "Systolic arterial pressure", "8480-6", "Systolic blood pressure"),
            ("1091811000000102", "Diastolic arterial pressure", "8462-4", "Diastolic blood pressure")]
UNIT_DISPLAY = {"Cel": "degC", "mm[Hg]": "mmHg"}

FIRST_DAY, LAST_DAY = date(2015, 1, 1).toordinal(), date(2026, 10, 31).toordinal()  # of the clinical records
LAST_BIRTH = date(2024, 12, 31).toordinal()  # births run from 1930 to 2024


# ---------------------------------------------------------------------------------------------------------------------
# Small builders

def coding(system, code, display):
    return {"system": system, "code": code, "display": display}


def concept(system, code, display):
    return {"coding": [coding(system, code, display)]}


def ref(resource_type, resource_id, display=None):
    r = {"reference": f"{resource_type}/{resource_id}"}
    if display:
        r["display"] = display
    return r


def quantity(value, ucum):
    return {"value": value, "unit": UNIT_DISPLAY.get(ucum, ucum), "system": UCUM, "code": ucum}


def weighted(pairs):
    """(items, cumulative weights) of (item, weight) pairs: summed once, rather than on every draw."""
    items, weights = zip(*pairs)
    return list(items), list(itertools.accumulate(weights))


def draw(rng, table, k=1):
    """k items of a weighted table, with replacement."""
    return rng.choices(table[0], cum_weights=table[1], k=k)


SURNAME_W = weighted(SURNAMES)
CONDITION_W = weighted((key, row[0]) for key, row in CONDITIONS.items())
OBSERVATION_W = weighted((key, row[0]) for key, row in OBSERVATIONS.items())
ALLERGY_W = weighted((row, row[0]) for row in ALLERGIES)
ENCOUNTER_W = weighted((row, row[0]) for row in ENCOUNTERS)


def pick_distinct(rng, table, n):
    """Up to n distinct items of a weighted table, drawn by weight without replacement."""
    chosen = []
    for _ in range(4 * n):
        item = draw(rng, table)[0]
        if item not in chosen:
            chosen.append(item)
            if len(chosen) == n:
                break
    return chosen


@functools.lru_cache(maxsize=None)
def day_parts(day):
    """(ISO date, UK offset from UTC) of a day ordinal: British Summer Time runs from the last Sunday of March
    to the last Sunday of October. Cached: a few thousand days cover every timestamp we write."""
    year = date.fromordinal(day).year

    def last_sunday(month):
        end = date(year, month + 1, 1) - timedelta(days=1)
        return end.toordinal() - (end.weekday() + 1) % 7
    return date.fromordinal(day).isoformat(), "+01:00" if last_sunday(3) <= day < last_sunday(10) else "+00:00"


def iso_date(day):
    return day_parts(day)[0]


def local_datetime(day, minute):
    """dateTime in UK local time with its offset, from a day ordinal and minutes after its midnight (which may
    run into the following days)."""
    iso, offset = day_parts(day + minute // 1440)
    minute %= 1440
    return f"{iso}T{minute // 60:02d}:{minute % 60:02d}:00{offset}"


def nhs_check_digit(stem):
    """Modulus 11 check digit of a 9-digit stem, or None for the stems no valid NHS number starts with."""
    check = 11 - sum(int(d) * w for d, w in zip(stem, range(10, 1, -1))) % 11
    return None if check == 10 else check % 11


def nhs_numbers(seed):
    """Distinct valid NHS numbers from the 999 range, which is never issued to patients, in a scattered order:
    7919 is coprime with 10**6, so the walk meets each of the million stems once."""
    for k in range(1_000_000):
        stem = f"999{(seed * 104_729 + k * 7919) % 1_000_000:06d}"
        check = nhs_check_digit(stem)
        if check is not None:
            yield stem + str(check)


def uk_address(rng, city):
    name, area, districts = city[:3]
    unit = "".join(rng.choices(POSTCODE_UNIT_LETTERS, k=2))
    postcode = f"{area}{rng.randint(1, districts)} {rng.randint(1, 9)}{unit}"  # e.g. LS1 4AP
    line = f"{rng.randint(1, 180)} {rng.choice(STREETS)} {rng.choice(STREET_TYPES)}"
    return {"line": [line], "city": name, "postalCode": postcode, "country": "GB"}


def person_name(rng, female, prefix=None, given_names=1):
    name = {"use": "official", "family": draw(rng, SURNAME_W)[0],
            "given": rng.sample(FEMALE_NAMES if female else MALE_NAMES, given_names)}
    if prefix:
        name["prefix"] = [prefix]
    return name


# ---------------------------------------------------------------------------------------------------------------------
# Resources shared between patients

def make_shared(rng, patients):
    """{city: its acute trust}, and the GP practices as (city, Organization, [its GPs as Practitioners])."""
    trusts, practices, serial = {}, [], 0
    for i, city in enumerate(CITIES):
        trusts[city[0]] = {"resourceType": "Organization", "id": f"org-trust-{i + 1:02d}",
                           "identifier": [{"system": ODS, "value": f"R{chr(65 + i)}{i % 9 + 1}"}], "active": True,
                           "type": [concept(ORG_ROLE, "197", "NHS TRUST")], "name": f"{city[4]}, {city[0]}",
                           "address": [uk_address(rng, city)]}
    # One practice per ~1,000 patients (England averages ~10,000), so that searches by practice stay
    # selective on small data sets.
    for i in range(max(3, min(500, patients // 1000))):
        city = CITIES[i % len(CITIES)]
        practice = {"resourceType": "Organization", "id": f"org-gp-{i + 1:04d}",
                    "identifier": [{"system": ODS, "value": f"{city[3]}{i // len(CITIES) + 1:03d}"}], "active": True,
                    "type": [concept(ORG_ROLE, "76", "GP PRACTICE")],
                    "name": f"{rng.choice(STREETS)} {rng.choice(PRACTICE_NAMES)}",
                    "telecom": [{"system": "phone", "value": f"01632 96{i:04d}", "use": "work"}],
                    "address": [uk_address(rng, city)]}
        gps = []
        for _ in range(rng.randint(2, 6)):
            serial += 1
            female = rng.random() < 0.55
            gps.append({"resourceType": "Practitioner", "id": f"prac-{serial:05d}",
                        "identifier": [{"system": SDS, "value": f"5550{serial:08d}"}], "active": True,
                        "name": [person_name(rng, female, "Dr")], "gender": "female" if female else "male"})
        practices.append((city, practice, gps))
    return trusts, practices


# ---------------------------------------------------------------------------------------------------------------------
# One patient's record. Each patient draws from its own random stream, so a record depends only on the seed and
# the patient's number: chunks of patients can be generated in any order, in any process.

class Record:
    def __init__(self, rng, number, nhs_number, city, practice, gps, trust):
        self.rng, self.key, self.pid = rng, f"{number:06d}", f"pat-{number:06d}"
        self.nhs_number, self.city, self.practice, self.gps, self.trust = nhs_number, city, practice, gps, trust
        self.female = rng.random() < 0.51
        # Ages roughly as in England: even up to 70 (a fifth under 18), then thinning out to 94.
        age = rng.uniform(0, 70) if rng.random() < 0.82 else rng.triangular(70, 94, 70)
        self.birth = LAST_BIRTH - int(age * 365.25)
        self.first_day = max(FIRST_DAY, self.birth + 30)
        self.problems = []  # condition keys; they steer the medicines and the observed values

    def resources(self):
        encounters = self.encounters()
        yield self.patient()
        yield from (enc for _, _, enc in encounters)
        yield from self.conditions()
        yield from self.medication_statements()
        yield from self.allergies()
        yield from self.observations(encounters)

    def day(self):
        return self.rng.randint(self.first_day, LAST_DAY)

    def gp(self):
        return ref("Practitioner", self.rng.choice(self.gps)["id"])

    def patient(self):
        rng = self.rng
        adult = LAST_DAY - self.birth > 18 * 365
        prefix = (rng.choice(("Mrs", "Ms", "Miss")) if self.female else "Mr") if adult else None
        phone = f"07700 900{rng.randint(0, 999):03d}" if adult else f"01632 960{rng.randint(0, 999):03d}"
        return {"resourceType": "Patient", "id": self.pid, "meta": {"profile": [UK_CORE + "Patient"]},
                "identifier": [{"extension": [UK_CORE_NHS_VERIFIED], "system": NHS_NUMBER, "value": self.nhs_number}],
                "active": True, "name": [person_name(rng, self.female, prefix, rng.choice((1, 1, 2)))],
                "telecom": [{"system": "phone", "value": phone, "use": "mobile" if adult else "home"}],
                "gender": "female" if self.female else "male", "birthDate": date.fromordinal(self.birth).isoformat(),
                "address": [{"use": "home", **uk_address(rng, self.city)}],
                "generalPractitioner": [ref("Organization", self.practice["id"], self.practice["name"])],
                "managingOrganization": ref("Organization", self.practice["id"])}

    def encounters(self):
        """[(day, start minute, Encounter)]: observations taken during a visit share its time."""
        rng, result = self.rng, []
        for n in range(rng.randint(2, 8)):
            _, cls, cls_display, code, display, (shortest, longest), holder = draw(rng, ENCOUNTER_W)[0]
            day, start = self.day(), rng.randint(8 * 60, 18 * 60)
            end = local_datetime(day, start + rng.randint(shortest, longest))
            enc = {"resourceType": "Encounter", "id": f"enc-{self.key}-{n + 1:02d}", "status": "finished",
                   "class": coding(HL7 + "v3-ActCode", cls, cls_display), "type": [concept(SCT, code, display)],
                   "subject": ref("Patient", self.pid), "period": {"start": local_datetime(day, start), "end": end},
                   "serviceProvider": ref("Organization", (self.practice if holder == "gp" else self.trust)["id"])}
            if holder == "gp":
                enc["participant"] = [{"type": [concept(HL7 + "v3-ParticipationType", "PPRF", "primary performer")],
                                       "individual": self.gp()}]
            result.append((day, start, enc))
        return result

    def conditions(self):
        rng, result = self.rng, []
        self.problems = pick_distinct(rng, CONDITION_W, rng.randint(2, 8))
        for n, key in enumerate(self.problems):
            _, code, display, _ = CONDITIONS[key]
            onset = rng.randint(max(self.birth, date(1990, 1, 1).toordinal()), LAST_DAY - 30)
            status = "resolved" if key in ACUTE and rng.random() < 0.9 else "active"
            cond = {"resourceType": "Condition", "id": f"cond-{self.key}-{n + 1:02d}",
                    "clinicalStatus": concept(HL7 + "condition-clinical", status, status.capitalize()),
                    "verificationStatus": concept(HL7 + "condition-ver-status", "confirmed", "Confirmed"),
                    "category": [concept(HL7 + "condition-category", "problem-list-item", "Problem List Item")],
                    "code": concept(SCT, code, display), "subject": ref("Patient", self.pid),
                    "onsetDateTime": iso_date(onset), "recordedDate": iso_date(onset + rng.randint(0, 20)),
                    "recorder": self.gp()}
            if status == "resolved":  # con-4: only an inactive condition has an abatement
                cond["abatementDateTime"] = iso_date(onset + rng.randint(5, 28))
            result.append(cond)
        return result

    def medication_statements(self):
        rng = self.rng
        # Mostly treatments of the patient's conditions, topped up with any common medicine.
        wanted = rng.randint(3, 7)
        linked = list(dict.fromkeys(m for key in self.problems for m in CONDITIONS[key][3]))
        keys = rng.sample(linked, min(len(linked), wanted))
        while len(keys) < wanted:
            key = rng.choice(list(MEDICATIONS))
            if key not in keys:
                keys.append(key)
        result = []
        for n, key in enumerate(keys):
            code, name, unit, text, per_day = MEDICATIONS[key]
            start = self.day()
            period = {"start": iso_date(start)}
            if key in ACUTE or rng.random() < 0.15:
                period["end"] = iso_date(min(LAST_DAY, start + (5 if key in ACUTE else rng.randint(30, 700))))
            result.append({
                "resourceType": "MedicationStatement", "id": f"med-{self.key}-{n + 1:02d}",
                "meta": {"profile": [UK_CORE + "MedicationStatement"]},
                # UK Core requires identifier.system and .value; a GP system's own record id is a UUID
                "identifier": [{"system": "https://tools.ietf.org/html/rfc4122",
                                "value": str(uuid.UUID(int=rng.getrandbits(128), version=4))}],
                "status": "completed" if "end" in period else "active",
                "category": concept(HL7 + "medication-statement-category", "community", "Community"),
                "medicationCodeableConcept": concept(DMD, code, name), "subject": ref("Patient", self.pid),
                "effectivePeriod": period, "dateAsserted": iso_date(min(LAST_DAY, start + rng.randint(0, 60))),
                "informationSource": ref("Organization", self.practice["id"]),
                "dosage": [{"text": text, "timing": {"repeat": {"frequency": per_day, "period": 1, "periodUnit": "d"}},
                            "route": ROUTES["inhaled" if unit == "puff" else "oral"],
                            "doseAndRate": [{"doseQuantity": {"value": 2 if unit == "puff" else 1, "unit": unit,
                                                              "system": SCT, "code": DOSE_UNITS[unit]}}]}]})
        return result

    def allergies(self):
        rng, result = self.rng, []
        for n, (_, code, display, kind, category) in enumerate(pick_distinct(rng, ALLERGY_W, rng.randint(0, 4))):
            reaction, reaction_display = rng.choice(REACTIONS)
            severe = reaction == "39579001"  # anaphylaxis
            verification = ("confirmed", "Confirmed") if rng.random() < 0.8 else ("unconfirmed", "Unconfirmed")
            result.append({
                "resourceType": "AllergyIntolerance", "id": f"alg-{self.key}-{n + 1:02d}",
                "meta": {"profile": [UK_CORE + "AllergyIntolerance"]},
                # ait-1: clinicalStatus is required unless the entry was entered in error; UK Core requires code
                "clinicalStatus": concept(HL7 + "allergyintolerance-clinical", "active", "Active"),
                "verificationStatus": concept(HL7 + "allergyintolerance-verification", *verification),
                "type": kind, "category": [category],
                "criticality": "high" if severe else rng.choice(("low", "low", "unable-to-assess")),
                "code": concept(SCT, code, display), "patient": ref("Patient", self.pid),
                "recordedDate": iso_date(self.day()), "recorder": self.gp(),
                "reaction": [{"manifestation": [concept(SCT, reaction, reaction_display)],
                              "severity": "severe" if severe else rng.choice(("mild", "moderate"))}]})
        return result

    def baseline(self):
        """Mean and spread of each observed value for this patient, so that a patient's series is plausible."""
        rng, problems = self.rng, self.problems
        height = rng.gauss(1.63 if self.female else 1.77, 0.07)
        weight = max(40.0, rng.gauss(31 if "obesity" in problems else 26, 4) * height * height)
        diabetic = "t2dm" in problems
        return {"weight": (weight, 2.0), "heart_rate": (rng.gauss(72, 8), 7), "temperature": (36.8, 0.4),
                "resp_rate": (16, 2), "bmi": (weight / (height * height), 0.6),
                "systolic": (rng.gauss(148 if "hypertension" in problems else 124, 10), 8),
                "hba1c": (58 if diabetic else 37, 10 if diabetic else 3),
                "haemoglobin": (132 if self.female else 148, 11), "creatinine": (150 if "ckd" in problems else 78, 14),
                "cholesterol": (5.1, 0.9), "potassium": (4.3, 0.35), "sodium": (139, 2.2)}

    def observations(self, encounters):
        rng, result, baseline = self.rng, [], self.baseline()
        for n, key in enumerate(draw(rng, OBSERVATION_W, rng.randint(16, 46))):
            _, category, sct, sct_display, loinc, loinc_display, unit, decimals, ranges = OBSERVATIONS[key]
            obs = {"resourceType": "Observation", "id": f"obs-{self.key}-{n + 1:02d}",
                   "meta": {"profile": [UK_CORE + "Observation"]}, "status": "final",
                   "category": [concept(HL7 + "observation-category", category, category.title().replace("-", " "))],
                   "code": {"coding": [coding(SCT, sct, sct_display), coding(LOINC, loinc, loinc_display)]},
                   "subject": ref("Patient", self.pid)}
            if category == "vital-signs" and rng.random() < 0.5:  # measured during a visit
                day, start, enc = rng.choice(encounters)
                obs["encounter"] = ref("Encounter", enc["id"])
                minute = start + rng.randint(0, 10)
            else:
                day, minute = self.day(), rng.randint(7 * 60, 19 * 60)
            obs["effectiveDateTime"] = local_datetime(day, minute)
            if category == "laboratory":  # the result comes back hours or days after the sample
                obs["issued"] = local_datetime(day, minute + rng.randint(600, 2880))
                obs["performer"] = [ref("Organization", self.trust["id"])]
            elif rng.random() < 0.7:
                obs["performer"] = [self.gp()]
            if key == "bp":  # a panel: the values are in the components, none at the top level (obs-7)
                systolic = rng.gauss(*baseline["systolic"])
                values = (systolic, systolic * 0.62 + rng.gauss(0, 5))
                obs["component"] = [{"code": {"coding": [coding(SCT, c, cd), coding(LOINC, lc, ld)]},
                                     "valueQuantity": quantity(round(v), unit)} for (c, cd, lc, ld), v in
                                    zip(BP_PARTS, values)]
            else:
                value = round(max(0.1, rng.gauss(*baseline[key])), decimals)
                obs["valueQuantity"] = quantity(value if decimals else int(value), unit)
                if ranges:
                    low, high = ranges
                    flag = "H" if value > high else "L" if low is not None and value < low else "N"
                    obs["interpretation"] = [concept(HL7 + "v3-ObservationInterpretation", flag,
                                                     {"H": "High", "L": "Low", "N": "Normal"}[flag])]
                    obs["referenceRange"] = [{bound: quantity(v, unit) for bound, v in (("low", low), ("high", high))
                                              if v is not None}]
            result.append(obs)
        return result


# ---------------------------------------------------------------------------------------------------------------------
# generate: JSON encoding costs as much as building the resources, so worker processes make chunks of patients;
# imap hands the chunks back in order, so the files do not depend on --jobs.

ENCODE = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
CHUNK = 250
_shared = None  # (seed, trusts, practices) in each worker process


def init_worker(seed, trusts, practices):
    global _shared
    _shared = seed, trusts, practices


def generate_chunk(task):
    """{type: (count, NDJSON text)} of patients first, first + 1, ... with the given NHS numbers. The lines are
    joined here: one large string is much cheaper to send back to the parent than thousands of small ones."""
    first, nhs_numbers_ = task
    seed, trusts, practices = _shared
    lines = {}
    for number, nhs_number in enumerate(nhs_numbers_, first):
        rng = random.Random(seed * 1_000_003 + number)
        city, practice, gps = rng.choice(practices)
        for resource in Record(rng, number, nhs_number, city, practice, gps, trusts[city[0]]).resources():
            lines.setdefault(resource["resourceType"], []).append(ENCODE(resource))
    return {kind: (len(ls), "\n".join(ls) + "\n") for kind, ls in lines.items()}


def generate(args):
    os.makedirs(args.out, exist_ok=True)
    started, counts, files = time.perf_counter(), {}, {}

    def write(kind, count, text):
        if kind not in files:
            files[kind] = open(os.path.join(args.out, kind + ".ndjson"), "w", encoding="utf-8")
        files[kind].write(text)
        counts[kind] = counts.get(kind, 0) + count

    trusts, practices = make_shared(random.Random(args.seed), args.patients)
    for kind, resources in (("Organization", [*trusts.values(), *(practice for _, practice, _ in practices)]),
                            ("Practitioner", [gp for *_, gps in practices for gp in gps])):
        write(kind, len(resources), "".join(ENCODE(r) + "\n" for r in resources))
    numbers = list(itertools.islice(nhs_numbers(args.seed), args.patients))
    tasks = [(first, numbers[first - 1:first - 1 + CHUNK]) for first in range(1, args.patients + 1, CHUNK)]
    jobs = max(1, min(args.jobs, len(tasks)))
    with multiprocessing.Pool(jobs, init_worker, (args.seed, trusts, practices)) if jobs > 1 else nullcontext() as pool:
        if pool is None:
            init_worker(args.seed, trusts, practices)
        for chunk in pool.imap(generate_chunk, tasks) if pool else map(generate_chunk, tasks):
            for kind, (count, text) in chunk.items():
                write(kind, count, text)
    for f in files.values():
        f.close()
    total, elapsed = sum(counts.values()), time.perf_counter() - started
    for kind, count in sorted(counts.items()):
        print(f"{kind:20} {count:>11,}")
    print(f"{'total':20} {total:>11,} in {elapsed:.1f} s: {total / elapsed:,.0f} resources/s with {jobs} jobs")


# ---------------------------------------------------------------------------------------------------------------------
# load: PUT [base]/[type]/[id], one phase at a time, so that referenced resources exist before their referrers

PHASES = [["Organization"], ["Practitioner"], ["Patient"], ["Encounter", "Condition"],
          ["Observation", "MedicationStatement", "AllergyIntolerance"]]
MAX_FAILURES = 10


class Loader:
    def __init__(self, base, workers):
        url = urlsplit(base.rstrip("/"))
        self.connection_class = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        self.netloc, self.path, self.workers = url.netloc, url.path, workers
        self.queue = queue.Queue(maxsize=workers * 64)  # bounded: the files are streamed, never held in memory
        self.lock, self.stop = threading.Lock(), threading.Event()
        self.stored = self.failures = 0

    def put(self, connection, kind, rid, body):
        connection.request("PUT", f"{self.path}/{kind}/{rid}", body=body,
                           headers={"Content-Type": "application/fhir+json", "Prefer": "return=minimal"})
        response = connection.getresponse()
        return response.status, response.read()  # read to the end, so that the connection can be reused

    def worker(self):
        connection = self.connection_class(self.netloc, timeout=60)
        while (item := self.queue.get()) is not None:
            if not self.stop.is_set():
                try:
                    try:
                        status, text = self.put(connection, *item)
                    except (OSError, http.client.HTTPException):  # e.g. the server closed an idle connection
                        connection.close()
                        status, text = self.put(connection, *item)  # http.client reconnects by itself
                except (OSError, http.client.HTTPException) as e:
                    status, text = 0, str(e).encode()
                self.record(item[0], item[1], status, text)
            self.queue.task_done()
        self.queue.task_done()
        connection.close()

    def record(self, kind, rid, status, text):
        with self.lock:
            if 200 <= status < 300:
                self.stored += 1
                return
            if self.stop.is_set():  # requests already in flight when the limit was reached
                return
            self.failures += 1
            try:  # the OperationOutcome's errors, without the warnings (such as dom-6) that did not matter
                issues = json.loads(text).get("issue", [])
                errors = [i for i in issues if i.get("severity") in ("error", "fatal")] or issues
                detail = "; ".join(i.get("diagnostics") or i.get("details", {}).get("text", "") for i in errors)
            except (ValueError, AttributeError):
                detail = text.decode("utf-8", "replace")[:500]
            print(f"FAILED {kind}/{rid}: HTTP {status}: {detail}", file=sys.stderr, flush=True)
            if self.failures >= MAX_FAILURES:
                self.stop.set()

    def lines(self, directory, kinds):
        """(type, id, line) of every resource in the files of these types, until told to stop."""
        for kind in kinds:
            with open(os.path.join(directory, kind + ".ndjson"), "rb") as f:
                for line in f:
                    if self.stop.is_set():
                        return
                    if line.strip():
                        yield kind, json.loads(line)["id"], line

    def run(self, directory):
        present = sorted(f[:-len(".ndjson")] for f in os.listdir(directory) if f.endswith(".ndjson"))
        known = {kind for phase in PHASES for kind in phase}
        phases = [[k for k in phase if k in present] for phase in PHASES] + [[k for k in present if k not in known]]
        threads = [threading.Thread(target=self.worker, daemon=True) for _ in range(self.workers)]
        for t in threads:
            t.start()
        started = last_report = time.perf_counter()
        for phase in filter(None, phases):
            for item in self.lines(directory, phase):
                self.queue.put(item)
                if time.perf_counter() - last_report > 2:
                    last_report = time.perf_counter()
                    self.report(started, f"loading {item[0]}")
            self.queue.join()  # the whole phase is stored before the next one starts
        for _ in threads:
            self.queue.put(None)
        for t in threads:
            t.join()
        self.report(started, f"stopped after {self.failures} failures" if self.stop.is_set() else "done")
        return self.failures == 0

    def report(self, started, what):
        elapsed = time.perf_counter() - started
        print(f"{what}: {self.stored:,} stored, {self.failures} failed, {elapsed:.1f} s, "
              f"{self.stored / max(elapsed, 1e-9):,.0f} resources/s", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate", help="write synthetic NDJSON files")
    gen.add_argument("--patients", type=int, required=True)
    gen.add_argument("--out", required=True, help="directory for the <ResourceType>.ndjson files")
    gen.add_argument("--seed", type=int, default=1)
    gen.add_argument("--jobs", type=int, default=os.cpu_count(), help="worker processes (default: one per core)")
    load = commands.add_parser("load", help="PUT the NDJSON files of a directory to a FHIR server")
    load.add_argument("--dir", required=True)
    load.add_argument("--base", default="http://localhost:8080/fhir")
    load.add_argument("--workers", type=int, default=8, help="concurrent connections (default: 8)")
    args = parser.parse_args()
    if args.command == "generate":
        if not 0 < args.patients <= 900_000:  # the 999 range holds about 909,000 valid NHS numbers
            parser.error("--patients must be between 1 and 900,000")
        generate(args)
    else:
        sys.exit(0 if Loader(args.base, args.workers).run(args.dir) else 1)


if __name__ == "__main__":
    main()
