"""The transcript import engine, below the service functions in ``transcripts.services``.

* ``copy_encoding``: records as COPY text lines (framework-free, tested without a database);
* ``writer``: the batches, their duplicate checks and the COPY into PostgreSQL;
* ``progress``: counters, and publishing them while the import's transaction is open.
"""
