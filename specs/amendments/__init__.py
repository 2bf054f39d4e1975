"""Amendments: reviewed changes to a spec, proposed against a published version and merged into
the spec's one draft (``services``), read through ``selectors`` and shaped by ``presenters``;
``merge`` is the framework-free three-way merge of clause fields."""
