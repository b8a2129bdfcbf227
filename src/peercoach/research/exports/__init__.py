"""Exports for analysts: CSV tables with a data dictionary, REDCap, and FHIR R4.

* `tables.py`: the export tables as streaming row generators, each with its data
  dictionary. Every format is written from these rows, so they carry the same data and
  de-identification happens in one place.
* `deid.py`: study ids, per-participant date shifts, ages, three-digit ZIPs.
* `csv_export.py`, `redcap.py`, `fhir_bundle.py`: the three formats.
* `jobs.py`: background jobs (request, run, download), audited; `views.py`: the pages.

Nothing is imported here: `research/models.py` imports `exports.models` at start-up.
"""
