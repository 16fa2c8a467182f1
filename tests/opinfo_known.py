"""The OpInfo samples known to fail, each with the reason (empty: every sample of every op
dlcore exposes passes; see tests/opinfo_support.py for what is skipped and why).

Entries are (op name, variant_test_name or None for all, predicate on (sample, dtype), reason),
and a fifth element True for a strict entry.  A matching sample that fails counts as xfailed.
One that passes counts as xpassed, and fails the test only for a strict entry.  A float32 entry
names the precision gap instead of loosening the rule of
opinfo_support.check_float32_accuracy.  Add an entry only with a reason and an owner; the
full sweep (`python tests/opinfo_support.py -v`) prints the xfailed and xpassed counts.
"""

KNOWN_FAILURES = [
    # linalg.eig/eigvals: the eigenvalues of a general real matrix are complex in general and
    # dlcore has no complex dtypes (the other 27 entries of session 14 were fixed in session 15)
    ('linalg.eig', None, lambda s, d: True,
     ('complex eigenvalues: dlcore has no complex dtypes and raises NotImplementedError '
      '(namesmath, session 14)')),
    ('linalg.eigvals', None, lambda s, d: True,
     ('complex eigenvalues: dlcore has no complex dtypes and raises NotImplementedError '
      '(namesmath, session 14)')),
]
