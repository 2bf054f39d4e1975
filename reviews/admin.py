"""Admin for reviews: none registered yet.

What belongs here: read-only browsing for support (campaigns, items, outcomes, labels with their
history, decisions), in the shape of ``specs.admin`` and ``transcripts.admin``. Nothing here
writes review data: labels, claims, lifecycle changes and decisions go through
``reviews.services`` (they keep revisions, outcomes and the audit trail consistent), and labels,
assignments, seats and decisions are evidence that is never deleted (their user keys are
PROTECT; ``clausebook.admin`` deactivates people instead of deleting them).
"""
