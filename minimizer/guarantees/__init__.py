"""Privacy guarantees enforced by construction: k-anonymity (full-domain generalisation over
ARX hierarchies, or Mondrian local recoding) and distinct l-diversity, counted over distinct
subjects when the table has a subject key.

Import from the modules: ``minimizer.guarantees.kanon`` and ``minimizer.guarantees.ldiversity``
for frames; ``minimizer.guarantees.enforce.enforce_k_anonymity`` for a source's published
table (a run's staged output, or a warehouse table after an erasure), types kept.
"""
