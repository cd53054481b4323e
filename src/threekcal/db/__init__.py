"""Database: models, engine and sessions, migrations, and the queries the API and pipeline share."""
