"""Privacy guarantees enforced by construction: k-anonymity (full-domain generalisation over
ARX hierarchies, or Mondrian local recoding) and distinct l-diversity.

Import from the modules: ``minimizer.guarantees.kanon`` and ``minimizer.guarantees.ldiversity``.
"""
