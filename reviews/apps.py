from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "reviews"

    def ready(self) -> None:
        from clausebook import signals
        from reviews import amendment_hooks, receivers
        from specs.amendments.changelog import register_changelog_lines
        from specs.amendments.services import register_merge_hook, register_unmerge_hook

        # A removed member or a deactivated user gives up their campaign seats and unfinished
        # items; their submitted labels stay (see reviews/receivers.py).
        signals.member_removed.connect(receivers.on_member_removed, dispatch_uid="reviews.seats")
        signals.user_deactivated.connect(
            receivers.on_user_deactivated, dispatch_uid="reviews.seats"
        )
        # Promoted gold follows its amendment into the spec: the example links back to the case,
        # and the published changelog names the cases (see reviews/amendment_hooks.py).
        register_merge_hook(amendment_hooks.link_promoted_examples)
        register_unmerge_hook(amendment_hooks.unlink_discarded_examples)
        register_changelog_lines(amendment_hooks.changelog_case_lines)
