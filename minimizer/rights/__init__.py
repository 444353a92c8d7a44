"""Data-subject rights and storage limitation: erasure that reaches every table, key rotation
with a re-key job, and reversible pseudonyms whose keys can be destroyed (crypto-shredding).

One idea per module; import the one you need (nothing is re-exported here, so importing a
transform does not pull in the warehouse code):

* :mod:`~minimizer.rights.requests`: erasure requests from a CLI, an id file, a drop folder or
  the CRM's ``erasure_requests`` table, and the Airflow task logic.
* :mod:`~minimizer.rights.targets`: which warehouse columns hold a subject's pseudonyms.
* :mod:`~minimizer.rights.erasure`: Art. 17 erasure, one transaction per warehouse.
* :mod:`~minimizer.rights.suppression`: erased subjects never come back with the next load.
* :mod:`~minimizer.rights.rekey`: move a warehouse to the current key version; retire old ones.
* :mod:`~minimizer.rights.keystore`, :mod:`~minimizer.rights.sealed`: per-subject data keys
  kept apart from the warehouse, and the ciphertext format of the ``encrypt`` transform.
* :mod:`~minimizer.rights.sql`: the definitions of this package's two audit tables (the SQL
  itself is the warehouse's).
* :mod:`~minimizer.rights.cli`: ``minimizer erase``, ``reveal``, ``keys rekey|retire``.

See docs/data-subject-rights.md.
"""

__all__: list[str] = []
