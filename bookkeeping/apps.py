from django.apps import AppConfig


class BookkeepingConfig(AppConfig):
    name = "bookkeeping"
    verbose_name = "Bookkeeping"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Importing registers the bookkeeping error codes in the catalogue.
        from bookkeeping import vat  # noqa: F401
