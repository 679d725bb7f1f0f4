"""The vaccine catalogue: which vaccines the city gives, to whom, when, and how often.

The default catalogue ships as data (``vaccines.toml``) and the administrator may edit it; the
rule helpers here are what data entry checks a keyed slip against.
"""

from core.catalog.ages import AgeLimit, AgeSyntaxError, Interval
from core.catalog.loader import (
    CatalogInvalid,
    CatalogProblem,
    load_default_catalog,
    parse_catalog,
)
from core.catalog.model import (
    AgeVerdict,
    Catalog,
    Category,
    DoseSpec,
    Maker,
    Product,
    Season,
    Vaccine,
    age_window,
    cohort_ok,
    dose_in_range,
    interval_reference,
    min_interval_ok,
    routine_on,
)

__all__ = [
    "AgeLimit",
    "AgeSyntaxError",
    "AgeVerdict",
    "Catalog",
    "CatalogInvalid",
    "CatalogProblem",
    "Category",
    "DoseSpec",
    "Interval",
    "Maker",
    "Product",
    "Season",
    "Vaccine",
    "age_window",
    "cohort_ok",
    "dose_in_range",
    "interval_reference",
    "load_default_catalog",
    "min_interval_ok",
    "parse_catalog",
    "routine_on",
]
