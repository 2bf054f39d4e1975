"""Signals the platform sends so that higher apps can react without the platform naming them.

Dependencies run one way (``reviews`` → ``transcripts`` → ``specs`` → ``clausebook``), so a
platform service cannot call, say, the reviews service that releases a reviewer's seats. It sends
one of these instead; the app that cares connects a receiver in its ``AppConfig.ready()``.

Both are sent inside the service's transaction, after its own writes: a receiver's writes commit
or roll back with them, and a receiver that raises aborts the whole operation (so raise only for
a reason the user should see, as a ``ValidationError``).

``member_removed(sender=Membership, workspace, user, actor)``
    ``user`` is no longer a member of ``workspace``. Their labels, assignments and decisions stay
    (the foreign keys are PROTECT); a receiver may release work that is not done yet.
``user_deactivated(sender=User, user, actor)``
    ``user`` can no longer sign in or use the API. Nothing of theirs is deleted.
"""

from __future__ import annotations

from django.dispatch import Signal

member_removed = Signal()
user_deactivated = Signal()
