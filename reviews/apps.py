from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "reviews"

    def ready(self) -> None:
        from clausebook import signals
        from reviews import receivers

        # A removed member or a deactivated user gives up their campaign seats and unfinished
        # items; their submitted labels stay (see reviews/receivers.py).
        signals.member_removed.connect(receivers.on_member_removed, dispatch_uid="reviews.seats")
        signals.user_deactivated.connect(
            receivers.on_user_deactivated, dispatch_uid="reviews.seats"
        )
