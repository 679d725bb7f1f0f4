"""A synthetic city for the demo store and benchmarks: residents, histories, institutions.

Pure Python (standard library and ``core``); storing the rows is the demo store's job.
"""

from storage.demo.generator import generate_city
from storage.demo.institutions import generate_institutions
from storage.demo.records import SyntheticInstitution, SyntheticResident, SyntheticVaccination
from storage.demo.tables import variant_surnames

__all__ = [
    "SyntheticInstitution",
    "SyntheticResident",
    "SyntheticVaccination",
    "generate_city",
    "generate_institutions",
    "variant_surnames",
]
