"""PostgreSQL behind the storage seam: psycopg 3, READ COMMITTED, triggers in PL/pgSQL,
an advisory lock around schema creation, and LISTEN/NOTIFY as the change feed."""
